package services

import (
	"context"
	"sync"
)

// batchParallel bounds the chunks of one batch in flight at once.
const batchParallel = 4

// CallBatch asks about many keys in as few calls as it can: answers in the
// cache are used; the other keys go to the service in chunks of at most
// chunk keys, each chunk one call under the contract (breaker, deadline,
// counted once); the answers are cached key by key. fn answers a chunk
// with one value per key it was given; found says which answers are
// positive (negative ones are cached for NegativeTTL). It returns the
// answers it has, and for each key it has none for, the error of its chunk.
func CallBatch[T any](ctx context.Context, c *Client, keys []string, chunk int,
	fn func(ctx context.Context, keys []string) (map[string]T, error), found func(T) bool) (map[string]T, map[string]error) {
	out := make(map[string]T, len(keys))
	var missing []string
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if v, ok := c.lookup(k); ok {
			c.hits.Add(1)
			out[k] = v.(T)
			continue
		}
		missing = append(missing, k)
	}
	errs := map[string]error{}
	if len(missing) == 0 {
		return out, errs
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, batchParallel)
	for start := 0; start < len(missing); start += chunk {
		part := missing[start:min(start+chunk, len(missing))]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ans, err := Call(ctx, c, "", func(ctx context.Context) (map[string]T, bool, error) {
				m, err := fn(ctx, part)
				return m, true, err
			})
			mu.Lock()
			defer mu.Unlock()
			for _, k := range part {
				v, ok := ans[k]
				switch {
				case err != nil:
					errs[k] = err
				case !ok:
					errs[k] = errNoAnswer
				default:
					out[k] = v
					c.store(k, v, found(v))
				}
			}
		}()
	}
	wg.Wait()
	return out, errs
}

// errNoAnswer is a key the service left out of its answer.
var errNoAnswer = &StatusError{Code: 200, Msg: "no answer for this item in the batch"}
