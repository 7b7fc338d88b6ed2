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

type keyedMAC struct {
	h   hash.Hash
	buf []byte // a signing input to verify, copied: Write takes bytes
	sum []byte
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
	p.pool.Put(m)
	return dst
}

// verify reports whether sig is the MAC of s, in constant time.
func (p *macPool) verify(s string, sig []byte) bool {
	m := p.pool.Get().(*keyedMAC)
	m.h.Reset()
	m.buf = append(m.buf[:0], s...)
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	ok := hmac.Equal(m.sum, sig)
	p.put(m)
	return ok
}

// maxPooledInput bounds the signing input a pooled state keeps room for:
// a huge token must not pin its size in the pool.
const maxPooledInput = 8 << 10

func (p *macPool) put(m *keyedMAC) {
	if cap(m.buf) > maxPooledInput {
		return
	}
	p.pool.Put(m)
}
