package password

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// FuzzVerify feeds Verify stored hashes as a Django import might contain
// them. Verify must not panic, must classify every failure as ErrMalformed
// or ErrUnknownScheme, and its errors must not depend on the password nor
// quote the hash. Limits are lowered so each call stays cheap; the code
// paths are the same.
func FuzzVerify(f *testing.F) {
	h := mustHasher(f, testParams)
	h.limits = limits{pbkdf2Iterations: 2000, bcryptCost: 5, argon2Memory: 1024, argon2Work: 2048}
	for _, v := range loadVectors(f) {
		if !v.Costly {
			f.Add(v.Encoded, v.Password)
		}
	}
	f.Add(mustHash(f, h, "secret"), "secret")
	for _, s := range []string{
		"", "!", "$", "$$$$$", "argon2$", "bcrypt$", "bcrypt_sha256$$2b$",
		"pbkdf2_sha256$$$", "pbkdf2_sha256$1000$salt$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$$",
		"argon2$argon2i$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHQ$AAAAAA",
		"bcrypt$$2b$99$abcdefghijklmnopqrstuuVUrPmXD6q/nVSSp7pNDhCR9071IfIRe",
	} {
		f.Add(s, "secret")
	}
	f.Fuzz(func(t *testing.T, encoded, password string) {
		ok, rehash, err := h.Verify(encoded, password)
		if err != nil {
			if ok || rehash {
				t.Fatalf("Verify = %v, %v, %v: ok or rehash with an error", ok, rehash, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownScheme) {
				t.Fatalf("Verify error %v is neither ErrMalformed nor ErrUnknownScheme", err)
			}
			// Every message is fixed text without "$", and every hash of a
			// known scheme contains "$", so no message can quote one.
			if strings.Contains(err.Error(), "$") {
				t.Fatalf("Verify error %q contains $", err)
			}
			if !strings.Contains(encoded, "$") && !errors.Is(err, ErrUnknownScheme) {
				t.Fatalf("Verify error %v for a string without $, want ErrUnknownScheme", err)
			}
		}
		if rehash && !ok {
			t.Fatalf("Verify = false, true: rehash without a match")
		}
		if encoded == "" || strings.HasPrefix(encoded, "!") {
			if ok || err != nil {
				t.Fatalf("Verify(unusable) = %v, %v; want false, nil", ok, err)
			}
		}
		// Errors depend on the hash only, never on the password.
		_, _, err2 := h.Verify(encoded, password+"\x00other")
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("errors differ with the password: %v and %v", err, err2)
		}
		if ok && !strings.HasPrefix(encoded, "bcrypt$") {
			// Only bcrypt ignores part of the password (past 72 bytes).
			if ok2, _, _ := h.Verify(encoded, password+"\x00other"); ok2 {
				t.Fatalf("Verify matched two different passwords")
			}
		}
	})
}

// FuzzWorkerFrames feeds the frame readers of Process and its worker
// arbitrary bytes: they must not panic, and whatever they accept must
// encode back to a frame that reads the same.
func FuzzWorkerFrames(f *testing.F) {
	var b bytes.Buffer
	writeRequest(&b, request{id: 7, op: opVerify, password: "pw", encoded: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA"})
	f.Add(b.Bytes())
	b.Reset()
	writeResponse(&b, response{id: 7, ok: true, rehash: true})
	f.Add(b.Bytes())
	b.Reset()
	writeResponse(&b, response{id: 8, err: ErrMalformed})
	f.Add(b.Bytes())
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if req, err := readRequest(bufio.NewReader(bytes.NewReader(data))); err == nil {
			var out bytes.Buffer
			if err := writeRequest(&out, req); err != nil {
				t.Fatalf("writeRequest(%+v): %v", req, err)
			}
			again, err := readRequest(bufio.NewReader(&out))
			if err != nil || again != req {
				t.Fatalf("request %+v reads back as %+v, %v", req, again, err)
			}
		} else if !errors.Is(err, errFrame) && !errors.Is(err, io.EOF) {
			t.Fatalf("readRequest: unexpected error %v", err)
		}
		if resp, err := readResponse(bufio.NewReader(bytes.NewReader(data))); err == nil {
			var out bytes.Buffer
			if err := writeResponse(&out, resp); err != nil {
				t.Fatalf("writeResponse(%+v): %v", resp, err)
			}
			again, err := readResponse(bufio.NewReader(&out))
			if err != nil || again.id != resp.id || again.ok != resp.ok || again.rehash != resp.rehash ||
				again.text != resp.text || fmt.Sprint(again.err) != fmt.Sprint(resp.err) ||
				errors.Is(again.err, ErrMalformed) != errors.Is(resp.err, ErrMalformed) ||
				errors.Is(again.err, ErrUnknownScheme) != errors.Is(resp.err, ErrUnknownScheme) {
				t.Fatalf("response %+v reads back as %+v, %v", resp, again, err)
			}
		} else if !errors.Is(err, errFrame) && !errors.Is(err, io.EOF) {
			t.Fatalf("readResponse: unexpected error %v", err)
		}
	})
}
