// mockcuda.c is a stand-in for the CUDA driver library (libcuda.so.1) that runs on the CPU,
// so that the cuda build of package gpu/cuda can run its tests on a machine without a GPU.
// scripts/gpu-mock.sh builds it and runs the tests with it in place of the driver.
//
// It implements the driver calls gpupipe makes, with the semantics that matter to the Go
// code above it, and is strict where a real driver is strict:
//   - every call that needs a context fails with CUDA_ERROR_INVALID_CONTEXT unless the
//     calling thread has made one current, which is how a goroutine that forgot to lock its
//     thread and set the context shows up;
//   - streams are threads that run their operations asynchronously and in order (with an
//     optional random delay before each, MOCKCUDA_JITTER_US), events complete when their
//     stream reaches them and carry the time they did;
//   - copies check that device ranges lie inside allocations; copies from or to pageable
//     host memory are synchronous, as the driver makes them;
//   - a launch reads each kernel parameter at the size the PTX declares for it, from the
//     pointer in kernelParams, and lays them out at their aligned offsets, as the driver
//     does; the kernels then read that block;
//   - a kernel that traps breaks the context: every later call returns
//     CUDA_ERROR_LAUNCH_FAILED and queued work is dropped, until the primary context is
//     released by all its users; on the device MOCKCUDA_LOSE_CONTEXT names (none by
//     default), the broken context can no longer even be made current: cuCtxSetCurrent and
//     cuCtxPushCurrent fail with the fault, as a driver may after a trap;
//   - module loads run ptxas (MOCKCUDA_PTXAS names it) on the PTX and return its log in the
//     JIT error log buffer when it fails.
// The kernels it can run: the conformance suite's gputest_saxpy, the tests' cudatest_*, and
// the image kernels of gpu/kernels through their CPU emulator (emu_launch), when linked in.
#define _GNU_SOURCE
#include <cuda.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 8
#define MAX_PARAMS 32
#define DEVICE_MEMORY (8ull << 30)

// The CPU emulator of the image kernels (gpu/kernels/csrc/emu.cpp), when linked in.
extern int emu_launch(const char *name, int grid, int block, const void *jobs, int n,
                      const void *src, void *dst, const void *tab) __attribute__((weak));
extern int emu_kernel_count(void) __attribute__((weak));
extern const char *emu_kernel_name(int i) __attribute__((weak));

// ---- state ----

struct CUctx_st {
	int device;
	int refs;
	unsigned flags;
	CUresult sticky; // the fault that broke the context, CUDA_SUCCESS when none
	int lost;        // the broken context can no longer be made current
	size_t used;     // device bytes allocated
	struct CUstream_st *streams;
};

struct region {
	uintptr_t base;
	size_t size;
	int ctx; // device of the owning context
};

struct regions {
	struct region *v;
	int n, cap;
};

struct CUfunc_st;

enum op_kind { OP_COPY, OP_LAUNCH, OP_RECORD, OP_WAIT };

struct op {
	enum op_kind kind;
	void *dst;
	const void *src;
	size_t n;
	struct CUfunc_st *fn;
	unsigned grid[3], block[3];
	unsigned char *params;
	struct CUevent_st *ev;
	unsigned long gen;
	struct op *next;
};

struct CUstream_st {
	CUcontext ctx;
	pthread_t thread;
	pthread_cond_t work;
	struct op *head, *tail;
	int busy, quit;
	struct CUstream_st *next; // in the context's list
};

struct CUevent_st {
	CUcontext ctx;
	unsigned long recorded; // Records enqueued
	unsigned long done;     // Records reached
	long long ns;           // when the last Record was reached
};

struct CUmod_st {
	char *ptx;
};

typedef CUresult (*kernel_impl)(const char *name, const struct op *o);

struct CUfunc_st {
	char name[128];
	int nparams;
	int size[MAX_PARAMS], off[MAX_PARAMS];
	int total;
	kernel_impl impl;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress = PTHREAD_COND_INITIALIZER; // an operation finished
static struct CUctx_st primary[MAX_DEVICES];
static int ndevices = -1;
static struct regions device_mem, pinned_mem;
static __thread CUcontext current;
static __thread CUcontext pushed[16]; // contexts under current, by cuCtxPushCurrent
static __thread int npushed;
static int jitter_us;
static int lose_ordinal = -1; // MOCKCUDA_LOSE_CONTEXT

static long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int env_int(const char *name, int def) {
	const char *v = getenv(name);
	return v && *v ? atoi(v) : def;
}

// ---- regions of memory ----

static void regions_add(struct regions *r, uintptr_t base, size_t size, int ctx) {
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->v = realloc(r->v, r->cap * sizeof *r->v);
	}
	r->v[r->n++] = (struct region){base, size, ctx};
}

static int regions_find(struct regions *r, uintptr_t p) {
	for (int i = 0; i < r->n; i++) {
		if (p >= r->v[i].base && p < r->v[i].base + r->v[i].size) {
			return i;
		}
	}
	return -1;
}

// regions_cover reports whether [p, p+n) lies inside one region.
static int regions_cover(struct regions *r, uintptr_t p, size_t n) {
	int i = regions_find(r, p);
	return i >= 0 && p + n <= r->v[i].base + r->v[i].size;
}

static void regions_remove(struct regions *r, int i) { r->v[i] = r->v[--r->n]; }

// ---- contexts ----

// need_ctx checks the calling thread's context. The caller holds mu.
static CUresult need_ctx(void) {
	if (current == NULL || current->refs == 0) {
		return CUDA_ERROR_INVALID_CONTEXT;
	}
	return current->sticky;
}

static CUresult init_devices(void) {
	if (ndevices < 0) {
		ndevices = env_int("MOCKCUDA_DEVICES", 1);
		if (ndevices > MAX_DEVICES) {
			ndevices = MAX_DEVICES;
		}
		jitter_us = env_int("MOCKCUDA_JITTER_US", 0);
		lose_ordinal = env_int("MOCKCUDA_LOSE_CONTEXT", -1);
		for (int i = 0; i < MAX_DEVICES; i++) {
			primary[i].device = i;
		}
	}
	return ndevices > 0 ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
}

CUresult cuInit(unsigned int flags) {
	if (flags != 0) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_lock(&mu);
	CUresult r = init_devices();
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuDriverGetVersion(int *v) {
	*v = 13000;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *n) {
	*n = ndevices < 0 ? 0 : ndevices;
	return ndevices < 0 ? CUDA_ERROR_NOT_INITIALIZED : CUDA_SUCCESS;
}

static int bad_device(CUdevice d) { return d < 0 || d >= ndevices; }

CUresult cuDeviceGet(CUdevice *d, int ordinal) {
	if (ordinal < 0 || ordinal >= ndevices) {
		return CUDA_ERROR_INVALID_DEVICE;
	}
	*d = ordinal;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
	if (bad_device(d)) {
		return CUDA_ERROR_INVALID_DEVICE;
	}
	snprintf(name, len, "gpupipe mock CUDA device %d", d);
	return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem(size_t *bytes, CUdevice d) {
	if (bad_device(d)) {
		return CUDA_ERROR_INVALID_DEVICE;
	}
	*bytes = DEVICE_MEMORY;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
	if (bad_device(d)) {
		return CUDA_ERROR_INVALID_DEVICE;
	}
	switch (a) {
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *v = 1024; break;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *v = 64; break;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *v = 2147483647; break;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *v = 65535; break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 4; break;
	case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: *v = 2; break;
	case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *v = 64; break;
	case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: *v = 1000000; break;
	case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: *v = d + 1; break;
	case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *v = 1; break;
	default: *v = 0;
	}
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxSetFlags(CUdevice d, unsigned int flags) {
	if (bad_device(d)) {
		return CUDA_ERROR_INVALID_DEVICE;
	}
	pthread_mutex_lock(&mu);
	primary[d].flags = flags;
	pthread_mutex_unlock(&mu);
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) {
	if (bad_device(d)) {
		return CUDA_ERROR_INVALID_DEVICE;
	}
	pthread_mutex_lock(&mu);
	if (primary[d].refs++ == 0) {
		primary[d].sticky = CUDA_SUCCESS; // a new context: a fault of the last one is gone
		primary[d].lost = 0;
	}
	*c = &primary[d];
	pthread_mutex_unlock(&mu);
	return CUDA_SUCCESS;
}

static void free_context_memory(CUcontext c);
static void reap_streams(CUcontext c);

CUresult cuDevicePrimaryCtxRelease(CUdevice d) {
	if (bad_device(d)) {
		return CUDA_ERROR_INVALID_DEVICE;
	}
	pthread_mutex_lock(&mu);
	CUresult r = CUDA_SUCCESS;
	if (primary[d].refs == 0) {
		r = CUDA_ERROR_INVALID_CONTEXT;
	} else if (--primary[d].refs == 0) {
		if (primary[d].streams != NULL && primary[d].sticky != CUDA_SUCCESS) {
			// A broken context: gpupipe may have been unable to destroy its streams
			// (the context could not be made current); the driver frees them with it.
			reap_streams(&primary[d]);
		} else if (primary[d].streams != NULL) {
			// Streams left behind belong to a destroyed context; a real driver frees
			// them, the mock reports them, since gpupipe should have destroyed them.
			fprintf(stderr, "mockcuda: device %d released with streams alive\n", d);
			r = CUDA_ERROR_INVALID_CONTEXT;
		}
		free_context_memory(&primary[d]);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

// can_make_current says whether c may become the thread's context: not once it is lost.
static CUresult can_make_current(CUcontext c) {
	if (c == NULL) {
		return CUDA_SUCCESS;
	}
	pthread_mutex_lock(&mu);
	CUresult r = c->lost ? c->sticky : CUDA_SUCCESS;
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuCtxSetCurrent(CUcontext c) {
	CUresult r = can_make_current(c);
	if (r == CUDA_SUCCESS) {
		current = c;
	}
	return r;
}

CUresult cuCtxPushCurrent(CUcontext c) {
	if (c == NULL) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (npushed == (int)(sizeof pushed / sizeof pushed[0])) {
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	CUresult r = can_make_current(c);
	if (r == CUDA_SUCCESS) {
		pushed[npushed++] = current;
		current = c;
	}
	return r;
}

CUresult cuCtxPopCurrent(CUcontext *c) {
	if (current == NULL) {
		return CUDA_ERROR_INVALID_CONTEXT;
	}
	if (c != NULL) {
		*c = current;
	}
	current = npushed > 0 ? pushed[--npushed] : NULL;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *c) {
	*c = current;
	return CUDA_SUCCESS;
}

// ---- memory ----

static void free_context_memory(CUcontext c) {
	for (int i = device_mem.n - 1; i >= 0; i--) {
		if (device_mem.v[i].ctx == c->device) {
			free((void *)device_mem.v[i].base);
			regions_remove(&device_mem, i);
		}
	}
	c->used = 0;
}

CUresult cuMemGetInfo(size_t *free_bytes, size_t *total) {
	pthread_mutex_lock(&mu);
	CUresult r = need_ctx();
	if (r == CUDA_SUCCESS) {
		*total = DEVICE_MEMORY;
		*free_bytes = DEVICE_MEMORY - current->used;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuMemAlloc(CUdeviceptr *p, size_t n) {
	pthread_mutex_lock(&mu);
	CUresult r = need_ctx();
	if (r == CUDA_SUCCESS && n == 0) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS && n > DEVICE_MEMORY - current->used) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	void *m = NULL;
	if (r == CUDA_SUCCESS && posix_memalign(&m, 256, n) != 0) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS) {
		memset(m, 0xCD, n); // device memory starts undefined; make that visible
		regions_add(&device_mem, (uintptr_t)m, n, current->device);
		current->used += n;
		*p = (CUdeviceptr)(uintptr_t)m;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

static void wait_context_idle(CUcontext c);

CUresult cuMemFree(CUdeviceptr p) {
	pthread_mutex_lock(&mu);
	CUresult r = need_ctx();
	int i = regions_find(&device_mem, (uintptr_t)p);
	if (r == CUDA_SUCCESS && (i < 0 || device_mem.v[i].base != (uintptr_t)p)) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS) {
		wait_context_idle(current); // cuMemFree waits for work that may use the memory
		i = regions_find(&device_mem, (uintptr_t)p);
		current->used -= device_mem.v[i].size;
		free((void *)p);
		regions_remove(&device_mem, i);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuMemHostAlloc(void **p, size_t n, unsigned int flags) {
	pthread_mutex_lock(&mu);
	CUresult r = need_ctx();
	void *m = NULL;
	if (r == CUDA_SUCCESS && (n == 0 || (flags & ~0xfu) != 0)) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS && (n > (1ull << 38) || posix_memalign(&m, 4096, n) != 0)) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS) {
		regions_add(&pinned_mem, (uintptr_t)m, n, current->device);
		*p = m;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuMemFreeHost(void *p) {
	pthread_mutex_lock(&mu);
	CUresult r = need_ctx();
	int i = regions_find(&pinned_mem, (uintptr_t)p);
	if (r == CUDA_SUCCESS && (i < 0 || pinned_mem.v[i].base != (uintptr_t)p)) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS) {
		regions_remove(&pinned_mem, i);
		free(p);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

// ---- streams ----

static void jitter(void) {
	if (jitter_us > 0) {
		usleep((useconds_t)(rand() % jitter_us));
	}
}

static void run_op(struct op *o, CUcontext c) {
	switch (o->kind) {
	case OP_COPY:
		memcpy(o->dst, o->src, o->n);
		break;
	case OP_LAUNCH: {
		CUresult r = o->fn->impl(o->fn->name, o);
		if (r != CUDA_SUCCESS) {
			pthread_mutex_lock(&mu);
			if (c->sticky == CUDA_SUCCESS) {
				c->sticky = r;
				c->lost = c->device == lose_ordinal;
			}
			pthread_mutex_unlock(&mu);
		}
		break;
	}
	case OP_RECORD:
		pthread_mutex_lock(&mu);
		o->ev->ns = now_ns();
		if (o->gen > o->ev->done) {
			o->ev->done = o->gen;
		}
		pthread_mutex_unlock(&mu);
		break;
	case OP_WAIT:
		pthread_mutex_lock(&mu);
		while (o->ev->done < o->gen && c->sticky == CUDA_SUCCESS) {
			pthread_cond_wait(&progress, &mu);
		}
		pthread_mutex_unlock(&mu);
		break;
	}
}

static void *stream_main(void *arg) {
	struct CUstream_st *s = arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		while (s->head == NULL && !s->quit) {
			pthread_cond_wait(&s->work, &mu);
		}
		if (s->head == NULL) {
			break;
		}
		struct op *o = s->head;
		s->busy = 1;
		int skip = s->ctx->sticky != CUDA_SUCCESS; // a broken context runs nothing more
		pthread_mutex_unlock(&mu);
		if (!skip) {
			jitter();
			run_op(o, s->ctx);
		}
		pthread_mutex_lock(&mu);
		s->head = o->next;
		if (s->head == NULL) {
			s->tail = NULL;
		}
		s->busy = 0;
		free(o->params);
		free(o);
		pthread_cond_broadcast(&progress);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

// enqueue adds o to s. The caller holds mu.
static void enqueue(struct CUstream_st *s, struct op *o) {
	o->next = NULL;
	if (s->tail) {
		s->tail->next = o;
	} else {
		s->head = o;
	}
	s->tail = o;
	pthread_cond_signal(&s->work);
}

// wait_stream_idle waits until s has run everything. The caller holds mu.
static void wait_stream_idle(struct CUstream_st *s) {
	while (s->head != NULL || s->busy) {
		pthread_cond_wait(&progress, &mu);
	}
}

static void wait_context_idle(CUcontext c) {
	for (struct CUstream_st *s = c->streams; s; s = s->next) {
		wait_stream_idle(s);
	}
}

// reap_streams ends and frees every stream of c, whose context is broken: their work is
// dropped. The caller holds mu, which is let go while the threads end.
static void reap_streams(CUcontext c) {
	struct CUstream_st *list = c->streams;
	c->streams = NULL;
	for (struct CUstream_st *s = list; s; s = s->next) {
		s->quit = 1;
		pthread_cond_signal(&s->work);
	}
	pthread_mutex_unlock(&mu);
	while (list != NULL) {
		struct CUstream_st *s = list;
		list = s->next;
		pthread_join(s->thread, NULL);
		pthread_cond_destroy(&s->work);
		free(s);
	}
	pthread_mutex_lock(&mu);
}

CUresult cuStreamCreate(CUstream *ph, unsigned int flags) {
	pthread_mutex_lock(&mu);
	CUresult r = need_ctx();
	if (r == CUDA_SUCCESS && flags > CU_STREAM_NON_BLOCKING) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS) {
		struct CUstream_st *s = calloc(1, sizeof *s);
		s->ctx = current;
		pthread_cond_init(&s->work, NULL);
		pthread_create(&s->thread, NULL, stream_main, s);
		s->next = current->streams;
		current->streams = s;
		*ph = s;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuStreamDestroy(CUstream s) {
	if (s == NULL) {
		return CUDA_ERROR_INVALID_HANDLE;
	}
	pthread_mutex_lock(&mu);
	wait_stream_idle(s);
	s->quit = 1;
	pthread_cond_signal(&s->work);
	for (struct CUstream_st **pp = &s->ctx->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->work);
	free(s);
	return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream s) {
	if (s == NULL) {
		return CUDA_ERROR_INVALID_HANDLE; // gpupipe never uses the legacy default stream
	}
	pthread_mutex_lock(&mu);
	wait_stream_idle(s);
	CUresult r = s->ctx->sticky;
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuCtxSynchronize(void) {
	pthread_mutex_lock(&mu);
	CUresult r = CUDA_ERROR_INVALID_CONTEXT;
	if (current != NULL && current->refs > 0) {
		wait_context_idle(current);
		r = current->sticky;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

// stream_call checks a call that enqueues on s: the thread's context must be s's.
static CUresult stream_call(CUstream s) {
	CUresult r = need_ctx();
	if (r != CUDA_SUCCESS) {
		return r;
	}
	if (s == NULL || s->ctx != current) {
		return CUDA_ERROR_INVALID_HANDLE;
	}
	return CUDA_SUCCESS;
}

static struct op *new_op(enum op_kind kind) {
	struct op *o = calloc(1, sizeof *o);
	o->kind = kind;
	return o;
}

static CUresult copy(CUstream s, void *dst, const void *src, size_t n, int sync_now) {
	struct op *o = new_op(OP_COPY);
	o->dst = dst;
	o->src = src;
	o->n = n;
	enqueue(s, o);
	if (sync_now) {
		// Pageable memory: the driver finishes with the host memory before returning.
		wait_stream_idle(s);
	}
	return CUDA_SUCCESS;
}

static int in_device(CUdeviceptr p, size_t n) { return regions_cover(&device_mem, (uintptr_t)p, n); }
static int pinned(const void *p, size_t n) { return regions_cover(&pinned_mem, (uintptr_t)p, n); }

CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
	pthread_mutex_lock(&mu);
	CUresult r = stream_call(s);
	if (r == CUDA_SUCCESS && !in_device(dst, n)) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS) {
		r = copy(s, (void *)(uintptr_t)dst, src, n, !pinned(src, n));
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t n, CUstream s) {
	pthread_mutex_lock(&mu);
	CUresult r = stream_call(s);
	if (r == CUDA_SUCCESS && !in_device(src, n)) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS) {
		r = copy(s, dst, (const void *)(uintptr_t)src, n, !pinned(dst, n));
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
	pthread_mutex_lock(&mu);
	CUresult r = stream_call(s);
	if (r == CUDA_SUCCESS && (!in_device(dst, n) || !in_device(src, n))) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS) {
		r = copy(s, (void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n, 0);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

// ---- events ----

CUresult cuEventCreate(CUevent *ph, unsigned int flags) {
	pthread_mutex_lock(&mu);
	CUresult r = need_ctx();
	if (r == CUDA_SUCCESS && flags > 0xf) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS) {
		struct CUevent_st *e = calloc(1, sizeof *e);
		e->ctx = current;
		*ph = e;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuEventDestroy(CUevent e) {
	if (e == NULL) {
		return CUDA_ERROR_INVALID_HANDLE;
	}
	pthread_mutex_lock(&mu);
	// A Record still queued refers to the event: wait for it, as the driver defers the release.
	while (e->done < e->recorded && e->ctx->sticky == CUDA_SUCCESS) {
		pthread_cond_wait(&progress, &mu);
	}
	wait_context_idle(e->ctx);
	pthread_mutex_unlock(&mu);
	free(e);
	return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent e, CUstream s) {
	pthread_mutex_lock(&mu);
	CUresult r = stream_call(s);
	if (r == CUDA_SUCCESS && (e == NULL || e->ctx != s->ctx)) {
		r = CUDA_ERROR_INVALID_HANDLE;
	}
	if (r == CUDA_SUCCESS) {
		struct op *o = new_op(OP_RECORD);
		o->ev = e;
		o->gen = ++e->recorded;
		enqueue(s, o);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int flags) {
	pthread_mutex_lock(&mu);
	CUresult r = stream_call(s);
	if (r == CUDA_SUCCESS && (e == NULL || flags != 0)) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS) {
		struct op *o = new_op(OP_WAIT);
		o->ev = e;
		o->gen = e->recorded;
		enqueue(s, o);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuEventQuery(CUevent e) {
	if (e == NULL) {
		return CUDA_ERROR_INVALID_HANDLE;
	}
	pthread_mutex_lock(&mu);
	CUresult r = e->ctx->sticky;
	if (r == CUDA_SUCCESS && e->done < e->recorded) {
		r = CUDA_ERROR_NOT_READY;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuEventSynchronize(CUevent e) {
	if (e == NULL) {
		return CUDA_ERROR_INVALID_HANDLE;
	}
	pthread_mutex_lock(&mu);
	while (e->done < e->recorded && e->ctx->sticky == CUDA_SUCCESS) {
		pthread_cond_wait(&progress, &mu);
	}
	CUresult r = e->ctx->sticky;
	pthread_mutex_unlock(&mu);
	return r;
}

CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
	if (start == NULL || end == NULL) {
		return CUDA_ERROR_INVALID_HANDLE;
	}
	pthread_mutex_lock(&mu);
	CUresult r = start->ctx->sticky;
	if (r == CUDA_SUCCESS && (start->recorded == 0 || end->recorded == 0)) {
		r = CUDA_ERROR_INVALID_HANDLE;
	} else if (r == CUDA_SUCCESS && (start->done < start->recorded || end->done < end->recorded)) {
		r = CUDA_ERROR_NOT_READY;
	}
	if (r == CUDA_SUCCESS) {
		*ms = (float)((end->ns - start->ns) / 1e6);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

// ---- modules and kernels ----

// run_ptxas checks ptx with the ptxas that MOCKCUDA_PTXAS names, writing its messages to log.
static CUresult run_ptxas(const char *ptx, char *log, size_t logsize) {
	const char *ptxas = getenv("MOCKCUDA_PTXAS");
	if (ptxas == NULL || *ptxas == 0) {
		return CUDA_SUCCESS;
	}
	char path[] = "/tmp/mockcuda-XXXXXX.ptx";
	int fd = mkstemps(path, 4);
	if (fd < 0) {
		return CUDA_ERROR_OPERATING_SYSTEM;
	}
	size_t n = strlen(ptx);
	int ok = write(fd, ptx, n) == (ssize_t)n;
	close(fd);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "'%s' -arch=sm_90 -o /dev/null '%s' 2>&1", ptxas, path);
	FILE *p = ok ? popen(cmd, "r") : NULL;
	size_t got = 0;
	if (p != NULL) {
		got = log && logsize ? fread(log, 1, logsize - 1, p) : 0;
		ok = pclose(p) == 0;
	}
	if (log && logsize) {
		log[got] = 0;
	}
	unlink(path);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_PTX;
}

CUresult cuModuleLoadDataEx(CUmodule *m, const void *image, unsigned int n, CUjit_option *opts, void **vals) {
	char *log = NULL;
	size_t logsize = 0;
	for (unsigned i = 0; i < n; i++) {
		if (opts[i] == CU_JIT_ERROR_LOG_BUFFER) {
			log = vals[i];
		} else if (opts[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) {
			logsize = (size_t)(uintptr_t)vals[i];
		}
	}
	pthread_mutex_lock(&mu);
	CUresult r = need_ctx();
	pthread_mutex_unlock(&mu);
	if (r != CUDA_SUCCESS) {
		return r;
	}
	const char *ptx = image;
	if (strstr(ptx, ".version") == NULL || strstr(ptx, ".target") == NULL) {
		if (log && logsize) {
			snprintf(log, logsize, "mockcuda: the image is not PTX");
		}
		return CUDA_ERROR_INVALID_PTX;
	}
	if ((r = run_ptxas(ptx, log, logsize)) != CUDA_SUCCESS) {
		return r;
	}
	struct CUmod_st *mod = calloc(1, sizeof *mod);
	mod->ptx = strdup(ptx);
	*m = mod;
	return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule m) {
	if (m == NULL) {
		return CUDA_ERROR_INVALID_HANDLE;
	}
	free(m->ptx);
	free(m);
	return CUDA_SUCCESS;
}

// param_size returns the size and alignment of one ".param" declaration of an entry.
static int param_size(const char *decl, int *align) {
	const char *a = strstr(decl, ".align");
	const char *br = strchr(decl, '[');
	if (a && br) { // .param .align A .b8 name[N]
		*align = atoi(a + 6);
		return atoi(br + 1);
	}
	static const struct {
		const char *type;
		int size;
	} types[] = {{".u8", 1}, {".s8", 1}, {".b8", 1}, {".u16", 2}, {".s16", 2}, {".b16", 2},
	             {".u32", 4}, {".s32", 4}, {".b32", 4}, {".f32", 4}, {".u64", 8}, {".s64", 8},
	             {".b64", 8}, {".f64", 8}};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		const char *t = strstr(decl, types[i].type);
		if (t && (t[strlen(types[i].type)] == ' ' || t[strlen(types[i].type)] == '\t')) {
			*align = types[i].size;
			return types[i].size;
		}
	}
	return -1;
}

// parse_entry fills f's parameter layout from the ".entry name(" declaration in ptx.
static CUresult parse_entry(const char *ptx, struct CUfunc_st *f) {
	char pat[160];
	snprintf(pat, sizeof pat, ".entry %s(", f->name);
	const char *p = strstr(ptx, pat);
	if (p == NULL) {
		return CUDA_ERROR_NOT_FOUND;
	}
	p += strlen(pat);
	const char *end = strchr(p, ')');
	if (end == NULL) {
		return CUDA_ERROR_INVALID_PTX;
	}
	int off = 0;
	while ((p = strstr(p, ".param")) != NULL && p < end) {
		const char *eol = p;
		while (eol < end && *eol != ',' && *eol != '\n') {
			eol++;
		}
		char decl[256];
		snprintf(decl, sizeof decl, "%.*s ", (int)(eol - p), p);
		int align, size = param_size(decl, &align);
		if (size <= 0 || f->nparams == MAX_PARAMS) {
			return CUDA_ERROR_INVALID_PTX;
		}
		off = (off + align - 1) / align * align;
		f->size[f->nparams] = size;
		f->off[f->nparams] = off;
		f->nparams++;
		off += size;
		p = eol;
	}
	f->total = off;
	return CUDA_SUCCESS;
}

#define ARG(o, T, i) (*(T *)((o)->params + (o)->fn->off[i]))

static unsigned threads(const struct op *o) {
	return o->grid[0] * o->grid[1] * o->grid[2] * o->block[0] * o->block[1] * o->block[2];
}

static CUresult saxpy(const char *name, const struct op *o) {
	(void)name;
	float *y = ARG(o, float *, 0);
	const float *x = ARG(o, const float *, 1);
	float a = ARG(o, float, 2);
	int n = ARG(o, int, 3), fail = ARG(o, int, 4);
	if (fail != 0) {
		return CUDA_ERROR_LAUNCH_FAILED; // what a trap in a kernel gives
	}
	for (unsigned i = 0; i < threads(o) && (int)i < n; i++) {
		volatile float p = a * x[i]; // rounded on its own, as __fmul_rn
		y[i] = p + y[i];
	}
	return CUDA_SUCCESS;
}

static CUresult test_args(const char *name, const struct op *o) {
	(void)name;
	long long *out = ARG(o, long long *, 0);
	float f = ARG(o, float, 3);
	double d = ARG(o, double, 4);
	out[0] = ARG(o, int, 1);
	out[1] = ARG(o, long long, 2);
	memcpy(&out[2], &f, 4);
	((unsigned *)&out[2])[1] = 0;
	memcpy(&out[3], &d, 8);
	out[4] = ARG(o, unsigned, 5);
	out[5] = *ARG(o, const int *, 6);
	out[6] = (long long)(uintptr_t)ARG(o, const int *, 6);
	out[7] = ARG(o, int, 7);
	return CUDA_SUCCESS;
}

static CUresult test_burn(const char *name, const struct op *o) {
	(void)name;
	float *y = ARG(o, float *, 0);
	const float *x = ARG(o, const float *, 1);
	int n = ARG(o, int, 2), iters = ARG(o, int, 3);
	for (unsigned i = 0; i < threads(o) && (int)i < n; i++) {
		float v = x[i];
		for (int k = 0; k < iters; k++) {
			v = v * 0.999f + 0.001f;
		}
		y[i] = v;
	}
	return CUDA_SUCCESS;
}

static CUresult test_copy(const char *name, const struct op *o) {
	(void)name;
	unsigned *dst = ARG(o, unsigned *, 0);
	const unsigned *src = ARG(o, const unsigned *, 1);
	int n = ARG(o, int, 2);
	for (unsigned i = 0; i < threads(o) && (int)i < n; i++) {
		dst[i] = src[i];
	}
	return CUDA_SUCCESS;
}

static CUresult image_kernel(const char *name, const struct op *o) {
	int rc = emu_launch(name, (int)o->grid[0], (int)o->block[0], ARG(o, void *, 0), ARG(o, int, 1),
	                    ARG(o, void *, 2), ARG(o, void *, 3), ARG(o, void *, 4));
	return rc == 0 ? CUDA_SUCCESS : CUDA_ERROR_LAUNCH_FAILED;
}

static kernel_impl find_impl(const char *name) {
	static const struct {
		const char *name;
		kernel_impl impl;
	} own[] = {{"gputest_saxpy", saxpy}, {"cudatest_args", test_args},
	           {"cudatest_burn", test_burn}, {"cudatest_copy", test_copy}};
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
		if (strcmp(own[i].name, name) == 0) {
			return own[i].impl;
		}
	}
	if (emu_kernel_count != NULL) {
		for (int i = 0; i < emu_kernel_count(); i++) {
			if (strcmp(emu_kernel_name(i), name) == 0) {
				return image_kernel;
			}
		}
	}
	return NULL;
}

CUresult cuModuleGetFunction(CUfunction *fp, CUmodule m, const char *name) {
	if (m == NULL || name == NULL || strlen(name) >= sizeof((struct CUfunc_st *)0)->name) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	struct CUfunc_st *f = calloc(1, sizeof *f);
	strcpy(f->name, name);
	CUresult r = parse_entry(m->ptx, f);
	if (r == CUDA_SUCCESS && (f->impl = find_impl(name)) == NULL) {
		fprintf(stderr, "mockcuda: no CPU implementation of kernel %s\n", name);
		r = CUDA_ERROR_NOT_SUPPORTED;
	}
	if (r != CUDA_SUCCESS) {
		free(f);
		return r;
	}
	*fp = f; // functions live as long as the process; the mock never unloads them
	return CUDA_SUCCESS;
}

CUresult cuFuncGetAttribute(int *v, CUfunction_attribute a, CUfunction f) {
	if (f == NULL) {
		return CUDA_ERROR_INVALID_HANDLE;
	}
	*v = a == CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK ? 1024 : 0;
	return CUDA_SUCCESS;
}

static int bad_shape(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz) {
	return gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || gx > 2147483647u ||
	       gy > 65535 || gz > 65535 || bx > 1024 || by > 1024 || bz > 64 || bx * by * bz > 1024;
}

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shmem, CUstream s, void **params, void **extra) {
	pthread_mutex_lock(&mu);
	CUresult r = stream_call(s);
	if (r == CUDA_SUCCESS && (f == NULL || extra != NULL || shmem != 0 || bad_shape(gx, gy, gz, bx, by, bz) ||
	                          (f->nparams > 0 && params == NULL))) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS) {
		struct op *o = new_op(OP_LAUNCH);
		o->fn = f;
		o->grid[0] = gx, o->grid[1] = gy, o->grid[2] = gz;
		o->block[0] = bx, o->block[1] = by, o->block[2] = bz;
		// The driver copies each parameter, at the size the kernel declares, when the
		// launch is enqueued; the caller's storage may go away as soon as this returns.
		o->params = calloc(1, f->total > 0 ? f->total : 1);
		for (int i = 0; i < f->nparams; i++) {
			memcpy(o->params + f->off[i], params[i], f->size[i]);
		}
		enqueue(s, o);
	}
	pthread_mutex_unlock(&mu);
	return r;
}
