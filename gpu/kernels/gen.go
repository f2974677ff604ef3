package kernels

//go:generate sh gen-ptx.sh
