package token

import (
	"crypto/hmac"
	"hash"
	"sync"
)

// macPool keeps keyed HMAC states of one secret: hmac.New hashes the key
// and allocates two digests each time, a cost every signature and every
// verification would pay again (two of each per refresh).
type macPool struct {
	pool sync.Pool
}

// keyedMAC is one pooled HMAC state and the room to copy a signing input
// into (hash.Hash takes bytes; a token is a string).
type keyedMAC struct {
	h     hash.Hash
	input []byte
}

func newMACPool(newHash func() hash.Hash, secret []byte) *macPool {
	p := &macPool{}
	p.pool.New = func() any { return &keyedMAC{h: hmac.New(newHash, secret)} }
	return p
}

// sum appends the MAC of b to dst.
func (p *macPool) sum(dst, b []byte) []byte {
	m := p.pool.Get().(*keyedMAC)
	m.h.Reset()
	m.h.Write(b)
	dst = m.h.Sum(dst)
	p.put(m)
	return dst
}

// verify reports whether sig is the MAC of s, in constant time.
func (p *macPool) verify(s string, sig []byte) bool {
	m := p.pool.Get().(*keyedMAC)
	m.input = append(m.input[:0], s...)
	m.h.Reset()
	m.h.Write(m.input)
	var mac [64]byte // the longest HMAC, HS512's
	ok := hmac.Equal(m.h.Sum(mac[:0]), sig)
	clear(m.input) // a verified token is a bearer secret: not kept in the pool
	p.put(m)
	return ok
}

// maxPooledInput bounds the signing input a pooled state keeps room for:
// a huge token must not pin its size in the pool.
const maxPooledInput = 8 << 10

func (p *macPool) put(m *keyedMAC) {
	if cap(m.input) > maxPooledInput {
		m.input = nil
	}
	p.pool.Put(m)
}
