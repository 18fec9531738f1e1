package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"

	"github.com/pedigree-ledger/pedigree/scanner"
)

// Photos of codes sent to POST /api/v1/verify. An image costs far more to
// decode than its bytes (a 300 KB PNG can declare 49 million pixels), so a
// node bounds both what one image may cost and how many it decodes at once.

// maxImagePixels is the largest image verification decodes: 16 MP, a phone
// camera's photo (12 MP is 4032x3024, or 4080x3072) with room to spare; a
// DataMatrix on a pack needs far fewer. Decoded, such an image holds at
// most 64 MiB of 8-bit RGBA (16-bit pixels count twice, a progressive
// JPEG's three times: see scanner.Options.MaxPixels) and the 16 MiB gray
// copy the search reads.
const maxImagePixels = 16_000_000

// imageDecodes bounds the images this process decodes at once to its
// cores. A decode keeps a core busy for up to imageTimeout and holds tens
// of MiB, so more at once would add memory and latency, not answers. It is
// process-wide, as the cores it shares out are.
var imageDecodes = newDecodeSlots(runtime.NumCPU())

// decodeSlots is a counting semaphore.
type decodeSlots chan struct{}

func newDecodeSlots(n int) decodeSlots { return make(decodeSlots, max(n, 1)) }

// acquire takes a slot, waiting until one is free or ctx ends, and returns
// the function that gives it back.
func (s decodeSlots) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err // do not take a slot for a request already over
	}
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// decodeImage finds the GS1 DataMatrix or Digital Link QR code in an image
// and returns its scan text. It waits for a decode slot as long as it
// would spend decoding (imageTimeout), then answers 503 so the client
// retries later instead of queueing for ever.
func decodeImage(ctx context.Context, r io.Reader) (string, error) {
	wait, cancel := context.WithTimeout(ctx, imageTimeout)
	release, err := imageDecodes.acquire(wait)
	cancel()
	if err != nil {
		return "", errf(http.StatusServiceUnavailable, "busy",
			"this node is decoding %d images already and none finished in time; try again", cap(imageDecodes))
	}
	defer release()
	res, err := scanner.Decode(ctx, r, scanner.Options{MaxBytes: maxImageSize, MaxPixels: maxImagePixels, Timeout: imageTimeout})
	switch {
	case errors.Is(err, scanner.ErrTooLarge):
		return "", errf(http.StatusRequestEntityTooLarge, "image_too_large",
			"%v; send a photo of at most %d pixels (16 bits per channel count twice)", err, maxImagePixels)
	case err != nil:
		return "", errf(http.StatusUnprocessableEntity, "no_code", "no GS1 code could be read from the image: %v", err)
	}
	return res.ScanText(), nil
}
