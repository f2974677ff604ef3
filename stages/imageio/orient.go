package imageio

// Orient returns img turned the way EXIF orientation o says a viewer shows it:
//
//	1 as stored           5 transposed (mirrored, then turned 270° clockwise)
//	2 mirrored left-right 6 turned 90° clockwise
//	3 turned 180°         7 transversed (mirrored, then turned 90° clockwise)
//	4 mirrored top-bottom 8 turned 270° clockwise
//
// Orientations 5 to 8 swap width and height. For 1 (and values outside 1..8) img is returned
// as it is; otherwise the result is new, from pool, and img is left alone.
func Orient(img Image, o int, pool *Pool) Image {
	if o < 2 || o > 8 {
		return img
	}
	w, h, c := img.Width, img.Height, img.Channels
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := newImage(pool, ow, oh, c)
	// Each output pixel (x, y) comes from source (x0 + x·dxx + y·dxy, y0 + x·dyx + y·dyy).
	x0, y0, dxx, dxy, dyx, dyy := 0, 0, 1, 0, 0, 1
	switch o {
	case 2:
		x0, dxx = w-1, -1
	case 3:
		x0, y0, dxx, dyy = w-1, h-1, -1, -1
	case 4:
		y0, dyy = h-1, -1
	case 5:
		dxx, dxy, dyx, dyy = 0, 1, 1, 0
	case 6:
		y0, dxx, dxy, dyx, dyy = h-1, 0, 1, -1, 0
	case 7:
		x0, y0, dxx, dxy, dyx, dyy = w-1, h-1, 0, -1, -1, 0
	case 8:
		x0, dxx, dxy, dyx, dyy = w-1, 0, -1, 1, 0
	}
	// Step through the source in bytes: one output pixel along a row moves the source by
	// (dxx, dyx) pixels, one output row by (dxy, dyy).
	stepX := dyx*img.Stride + dxx*c
	for y := range oh {
		src := (y0+y*dyy)*img.Stride + (x0+y*dxy)*c
		dst := row(&out, y)
		if c == 3 {
			for x := 0; x < len(dst); x += 3 {
				dst[x], dst[x+1], dst[x+2] = img.Pix[src], img.Pix[src+1], img.Pix[src+2]
				src += stepX
			}
			continue
		}
		for x := 0; x < len(dst); x += c {
			copy(dst[x:x+c], img.Pix[src:src+c])
			src += stepX
		}
	}
	return out
}
