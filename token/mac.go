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
	buf []byte // the signing input, copied: Write takes bytes
	sum []byte
}

func newMACPool(newHash func() hash.Hash, secret []byte) *macPool {
	p := &macPool{}
	p.pool.New = func() any { return &keyedMAC{h: hmac.New(newHash, secret)} }
	return p
}

// sign appends the MAC of s to dst.
func (p *macPool) sign(dst []byte, s string) []byte {
	m := p.get(s)
	dst = append(dst, m.sum...)
	p.put(m)
	return dst
}

// verify reports whether sig is the MAC of s, in constant time.
func (p *macPool) verify(s string, sig []byte) bool {
	m := p.get(s)
	ok := hmac.Equal(m.sum, sig)
	p.put(m)
	return ok
}

func (p *macPool) get(s string) *keyedMAC {
	m := p.pool.Get().(*keyedMAC)
	m.h.Reset()
	m.buf = append(m.buf[:0], s...)
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	return m
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
