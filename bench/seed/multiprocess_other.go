//go:build !unix

package main

import "errors"

var errNoUnix = errors.New("the multiprocess approach needs mmap and flock (a unix system)")

func runMultiprocess(string, []float32, int, int) ([]float32, func(), error) {
	return nil, nil, errNoUnix
}

func poolWorker([]string) error { return errNoUnix }
