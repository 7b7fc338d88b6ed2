// Package redis holds latch's Redis backends for running many instances
// behind a load balancer (LATCH_REDIS_URL): the revocation bus that tells
// every instance about a revocation at once (Bus), the rate limiter shared
// by all instances (Limiter) and the per-session cache (Cache).
//
// Every backend works on a single Redis server and on Redis Cluster: Open
// returns a goredis.UniversalClient for either, keys that are used together
// share a hash tag (so they live in one slot), and the bus uses plain
// PUBLISH/SUBSCRIBE, which Redis Cluster broadcasts to every node.
//
// Redis is never the only record of a revocation: the database is. The bus
// reports when its subscription breaks (RevocationListener.Disconnected),
// and when it is established again (Connected) the revocation index catches
// up from the database, so messages lost while disconnected, or a Redis
// restart or flush, never make a revoked token valid again.
package redis
