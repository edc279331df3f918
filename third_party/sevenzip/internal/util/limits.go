package util

// Limits on what an archive's header may make the reader allocate (Mail
// Inspector's patch; PATCHES.md): archives come from strangers.
const (
	// MaxCount bounds a count read from a header (files, folders, coders,
	// streams, sizes): each becomes a slice.
	MaxCount = 1 << 20
	// MaxProperties bounds a coder's property bytes (7-Zip's largest,
	// AES's, are 34).
	MaxProperties = 256
	// MaxDictionary bounds the memory a decoder allocates for its window
	// or model (LZMA and LZMA2 dictionaries, PPMd's memory, Zstandard's
	// window): 7-Zip's strongest default level uses 64 MiB.
	MaxDictionary = 64 << 20
)
