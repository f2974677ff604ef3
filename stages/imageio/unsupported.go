package imageio

import (
	"errors"
	"image/jpeg"
	"image/png"
	"strings"

	"golang.org/x/image/tiff"
)

// Unsupported versus corrupt. A valid file of a kind the decoders do not read (a TIFF with
// JPEG compression, a CMYK or floating-point TIFF, an animated WebP, an arithmetic-coded
// JPEG) is ErrUnsupported, named from its header where the header says it; a file that breaks
// its format's rules is ErrCorrupt. The decoders' own error types tell the rest apart:
// jpeg.UnsupportedError, png.UnsupportedError and tiff.UnsupportedError against their
// FormatErrors and the rest. (bmp.ErrUnsupported also stands for damaged headers, so BMPs are
// told apart from their header alone.)

// formatNames are the formats as people write them.
var formatNames = map[string]string{
	"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF", "webp": "WebP",
	"heif": "HEIF", "avif": "AVIF",
}

func formatName(format string) string {
	if n, ok := formatNames[format]; ok {
		return n
	}
	return format
}

// decodeError is a decoder's failure on one file: ErrCorrupt or ErrUnsupported, the format,
// and the decoder's words without the format's name they often start with.
type decodeError struct {
	kind   error // ErrCorrupt or ErrUnsupported
	format string
	what   string // "header" when the header could not be read, or ""
	msg    string
	err    error // the decoder's error, for errors.Is and errors.As; may be nil
}

func (e *decodeError) Error() string {
	where := e.format
	if e.what != "" {
		where += " " + e.what
	}
	if e.kind == ErrUnsupported {
		return e.kind.Error() + ": " + e.msg
	}
	return e.kind.Error() + ": " + where + ": " + e.msg
}

func (e *decodeError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// unsupported is ErrUnsupported for the feature named, such as "TIFF with JPEG compression".
func unsupported(format, feature string, err error) error {
	return &decodeError{kind: ErrUnsupported, format: format, msg: feature, err: err}
}

// classify turns a decoder's error on a file in format into ErrUnsupported or ErrCorrupt. A
// feature named from the file's header (see feature) describes an unsupported file better
// than the decoder's words.
func classify(format, what string, err error, feature string) error {
	if de := (*decodeError)(nil); errors.As(err, &de) {
		return err // classified where it arose
	}
	if isUnsupported(err) {
		if feature == "" {
			feature = formatName(format) + " (" + trimDecoderPrefix(format, err.Error()) + ")"
		}
		return unsupported(format, feature, err)
	}
	return &decodeError{kind: ErrCorrupt, format: format, what: what, msg: trimDecoderPrefix(format, eofToTruncated(err).Error()), err: err}
}

func isUnsupported(err error) bool {
	var ju jpeg.UnsupportedError
	var pu png.UnsupportedError
	var tu tiff.UnsupportedError
	return errors.As(err, &ju) || errors.As(err, &pu) || errors.As(err, &tu)
}

// trimDecoderPrefix removes the package names and words the decoders start their errors
// with, which the error around them already says: "png: invalid format: x" is "invalid
// format: x" in "corrupt image: png: ...".
func trimDecoderPrefix(format, msg string) string {
	for _, p := range []string{format + ": unsupported feature: ", "unsupported JPEG feature: ", format + ": "} {
		if strings.HasPrefix(msg, p) {
			return msg[len(p):]
		}
	}
	return msg
}
