package password

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The frames between a Process and its worker. Every frame is a 4-byte
// big-endian length followed by that many bytes:
//
//	request:  id u64 | op u8 | len u32, password | len u32, encoded hash
//	response: id u64 | flags u8 (1 ok, 2 needs rehash) | error kind u8 | len u32, text
//
// text is the hash for opHash, and the error's message when kind is not
// errNone.
const (
	opHash   byte = 1
	opVerify byte = 2
	opDummy  byte = 3

	flagOK     byte = 1
	flagRehash byte = 2

	errNone      byte = 0
	errScheme    byte = 1 // wraps ErrUnknownScheme
	errMalformed byte = 2 // wraps ErrMalformed
	errOther     byte = 3

	// maxFrame bounds a frame: far above any password or hash latch lets
	// through (request bodies are 64 KiB at most).
	maxFrame = 1 << 20
)

var errFrame = errors.New("password: malformed worker frame")

type request struct {
	id                uint64
	op                byte
	password, encoded string
}

type response struct {
	id         uint64
	ok, rehash bool
	text       string
	err        error
}

// workerError is an error carried across from the worker: its message,
// and the sentinel it wrapped there, if any.
type workerError struct {
	msg      string
	sentinel error
}

func (e *workerError) Error() string { return e.msg }
func (e *workerError) Unwrap() error { return e.sentinel }

func writeRequest(w io.Writer, r request) error {
	b := make([]byte, 4, 4+8+1+4+len(r.password)+4+len(r.encoded))
	b = binary.BigEndian.AppendUint64(b, r.id)
	b = append(b, r.op)
	b = appendString(b, r.password)
	b = appendString(b, r.encoded)
	return writeFrame(w, b)
}

func readRequest(br *bufio.Reader) (request, error) {
	f, err := readFrame(br)
	if err != nil {
		return request{}, err
	}
	var r request
	d := decoder{b: f}
	r.id = d.uint64()
	r.op = d.byte()
	r.password = d.string()
	r.encoded = d.string()
	if err := d.end(); err != nil {
		return request{}, err
	}
	return r, nil
}

func writeResponse(w io.Writer, r response) error {
	var flags, kind byte
	if r.ok {
		flags |= flagOK
	}
	if r.rehash {
		flags |= flagRehash
	}
	text := r.text
	if r.err != nil {
		text = r.err.Error()
		switch {
		case errors.Is(r.err, ErrUnknownScheme):
			kind = errScheme
		case errors.Is(r.err, ErrMalformed):
			kind = errMalformed
		default:
			kind = errOther
		}
	}
	b := make([]byte, 4, 4+8+2+4+len(text))
	b = binary.BigEndian.AppendUint64(b, r.id)
	b = append(b, flags, kind)
	b = appendString(b, text)
	return writeFrame(w, b)
}

func readResponse(br *bufio.Reader) (response, error) {
	f, err := readFrame(br)
	if err != nil {
		return response{}, err
	}
	var r response
	d := decoder{b: f}
	r.id = d.uint64()
	flags, kind := d.byte(), d.byte()
	text := d.string()
	if err := d.end(); err != nil {
		return response{}, err
	}
	r.ok, r.rehash = flags&flagOK != 0, flags&flagRehash != 0
	switch kind {
	case errNone:
		r.text = text
	case errScheme:
		r.err = &workerError{msg: text, sentinel: ErrUnknownScheme}
	case errMalformed:
		r.err = &workerError{msg: text, sentinel: ErrMalformed}
	case errOther:
		r.err = &workerError{msg: text}
	default:
		return response{}, fmt.Errorf("%w: error kind %d", errFrame, kind)
	}
	return r, nil
}

// writeFrame fills in the length prefix of b (its first 4 bytes) and
// writes it in one call.
func writeFrame(w io.Writer, b []byte) error {
	if len(b)-4 > maxFrame {
		return fmt.Errorf("%w: %d bytes", errFrame, len(b)-4)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	_, err := w.Write(b)
	return err
}

// readFrame reads one frame; io.EOF only when the input ends between frames.
func readFrame(br *bufio.Reader) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated length", errFrame)
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n > maxFrame {
		return nil, fmt.Errorf("%w: %d bytes", errFrame, n)
	}
	f := make([]byte, n)
	if _, err := io.ReadFull(br, f); err != nil {
		return nil, fmt.Errorf("%w: truncated: %w", errFrame, err)
	}
	return f, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// decoder reads the fields of a frame; the first short read sets err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil || uint64(len(d.b)) < n {
		if d.err == nil {
			d.err = fmt.Errorf("%w: short", errFrame)
		}
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) byte() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) string() string {
	b := d.take(4)
	if b == nil {
		return ""
	}
	return string(d.take(uint64(binary.BigEndian.Uint32(b))))
}

// end reports the first error, or trailing bytes.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errFrame, len(d.b))
	}
	return d.err
}
