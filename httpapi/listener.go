package httpapi

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Listener wraps ln so that the few answers net/http gives before any
// handler runs are JSON with nosniff, like every other latch error: a
// request line or header it cannot parse (400), headers over the
// server's MaxHeaderBytes (431), a transfer coding it does not know
// (501), a protocol version it does not serve (505). net/http writes
// those as plain text straight to the connection, past every handler;
// the connections ln accepts rewrite exactly those writes and pass every
// other byte through. They are plain-text connections of another type
// than ln's (a ConnState hook or a Hijack sees the wrapper); TLS
// connections, which net/http must see as *tls.Conn, pass unwrapped
// (wrap the listener under tls.NewListener to cover them).
func Listener(ln net.Listener) net.Listener { return jsonErrorsListener{ln} }

type jsonErrorsListener struct{ net.Listener }

func (l jsonErrorsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if _, ok := c.(*tls.Conn); ok {
		return c, nil
	}
	return jsonErrorsConn{c}, nil
}

type jsonErrorsConn struct{ net.Conn }

func (c jsonErrorsConn) Write(p []byte) (int, error) {
	if answer, ok := jsonServerError(p); ok {
		if _, err := c.Conn.Write(answer); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite lets net/http half-close the connection after an error, as
// it does on a bare TCP connection, so that the client reads the answer
// rather than a reset.
func (c jsonErrorsConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the TCP connection's sendfile/splice for bodies copied
// from files (net/http asks for it); no error answer goes this way.
func (c jsonErrorsConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// serverErrorHeaders are the headers net/http's own error answers carry,
// between the status line and the body.
const serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// jsonServerError returns the JSON answer for p when p is one of
// net/http's own plain-text error answers, whole: "HTTP/1.1 ", a status
// line, serverErrorHeaders, and a body that repeats the status line (or,
// for 501, names the transfer coding). Anything else, a response body
// included, is not one.
func jsonServerError(p []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	// Cheap refusals first: every response latch writes itself passes here.
	if len(p) < len(proto)+3 || string(p[:len(proto)]) != proto || (p[len(proto)] != '4' && p[len(proto)] != '5') {
		return nil, false
	}
	i := bytes.Index(p, []byte(serverErrorHeaders))
	if i < 0 {
		return nil, false
	}
	status, body := string(p[len(proto):i]), string(p[i+len(serverErrorHeaders):])
	if len(status) < 4 || status[3] != ' ' {
		return nil, false
	}
	code, err := strconv.Atoi(status[:3])
	if err != nil {
		return nil, false
	}
	var msg string
	switch {
	case code == http.StatusNotImplemented && body == "Unsupported transfer encoding":
		msg = "Unsupported transfer encoding."
	case body != status:
		return nil, false
	case code == http.StatusRequestHeaderFieldsTooLarge:
		msg = "Request header fields too large."
	case code == http.StatusBadRequest:
		msg = "Malformed HTTP request."
		// A statusError's reason: "400 Bad Request: missing required Host header".
		if _, reason, ok := strings.Cut(status, ": "); ok {
			msg = "Malformed HTTP request: " + reason + "."
		}
	default:
		// Another statusError: "505 HTTP Version Not Supported: unsupported protocol version".
		msg = status[4:] + "."
	}
	enc, err := marshal(detail(msg))
	if err != nil {
		return nil, false
	}
	var b bytes.Buffer
	b.WriteString(proto)
	b.WriteString(strconv.Itoa(code))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(code))
	b.WriteString("\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(enc)))
	b.WriteString("\r\n\r\n")
	b.Write(enc)
	return b.Bytes(), true
}
