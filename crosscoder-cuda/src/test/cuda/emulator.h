// A small CPU emulator of the CUDA execution model, enough to run crosscoder_kernels.cu on a
// machine without a GPU: every CUDA thread of a block is a fiber (ucontext), blocks run one after
// another, __syncthreads and the warp collectives are barriers between fibers.
//
// It is strict where a GPU is forgiving or undefined, so that it finds the bugs a GPU would hide:
// - a __syncthreads that not every thread of the block reaches (some exited, or waited at another
//   __syncthreads) is a deadlock, reported with the lines where the threads wait;
// - a warp collective (__ballot_sync, the shuffles, __match_any_sync) must be reached by every lane of its mask,
//   with the same mask, at the same line, and read only lanes of the mask.
// Atomics are plain read-modify-writes (fibers never preempt each other). Memory ordering is
// sequential, so the emulator cannot find a missing __syncthreads between a write and a read of
// shared memory unless the schedule exposes it: the scheduler therefore runs the fibers in a
// different order (reversed, interleaved) at every barrier round, which makes most such races
// visible as wrong results.
#pragma once

#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#endif

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
};

namespace emu {

struct Barrier;

struct Fiber {
  ucontext_t ctx;
  uint3 idx;
  bool done;
  int waitLine;  // where it waits, for deadlock reports
  const struct Barrier* waitingOn;  // the barrier it waits at, or null
  unsigned waitingGen;              // that barrier's generation when it arrived
  std::vector<char> stack;
};

struct Barrier {
  unsigned arrived = 0;
  unsigned gen = 0;
  int line = -1;
  unsigned mask = 0;
};

struct State {
  std::vector<Fiber> fibers;
  ucontext_t scheduler;
  Fiber* current = nullptr;
  unsigned long long epoch = 0;  // counts completed barriers and finished fibers: progress
  unsigned finished = 0;         // fibers of the current block that have returned
  Barrier block;
  std::vector<Barrier> warps;
  std::vector<std::vector<unsigned long long>> warpSlots;
  std::vector<unsigned char> dynamicShared;
  std::function<void()> body;
  unsigned threads = 0;
  unsigned round = 0;
#ifdef EMU_ASAN
  void* fakeStack = nullptr;
  const void* schedBottom = nullptr;
  size_t schedSize = 0;
#endif
};

inline State& state() {
  static State s;
  return s;
}

inline unsigned& launchCounter() {
  static unsigned n = 0;
  return n;
}
inline unsigned launches() { return launchCounter(); }
inline unsigned scheduleOffset() {
  const char* e = std::getenv("EMU_SCHEDULE_OFFSET");
  return e ? (unsigned)std::atoi(e) : 0u;
}

[[noreturn]] inline void fail(const char* what, int line) {
  std::fprintf(stderr, "EMULATOR ERROR: %s (kernel line %d, block %u, thread %u)\n", what, line,
      0u, state().current ? state().current->idx.x : 0u);
  std::abort();
}

inline void yieldToScheduler() {
  State& s = state();
  Fiber* f = s.current;
#ifdef EMU_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, s.schedBottom, s.schedSize);
#endif
  swapcontext(&f->ctx, &s.scheduler);
#ifdef EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

inline void fiberEntry() {
  State& s = state();
#ifdef EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &s.schedBottom, &s.schedSize);
#endif
  s.body();
  s.current->done = true;
  s.finished++;
  s.epoch++;
#ifdef EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, s.schedBottom, s.schedSize);
#endif
  // returns through uc_link to the scheduler
}

inline void waitAt(Barrier& b, unsigned expected, int line, unsigned mask) {
  State& s = state();
  if (b.arrived == 0) {
    b.line = line;
    b.mask = mask;
  } else if (b.line != line) {
    std::fprintf(stderr, "EMULATOR ERROR: divergent barrier: thread %u at line %d, others at line %d\n",
        s.current->idx.x, line, b.line);
    std::abort();
  } else if (b.mask != mask) {
    fail("warp collective with different masks", line);
  }
  unsigned gen = b.gen;
  if (++b.arrived == expected) {
    b.arrived = 0;
    b.gen++;
    s.epoch++;
    return;
  }
  s.current->waitLine = line;
  s.current->waitingOn = &b;
  s.current->waitingGen = gen;
  while (b.gen == gen) {
    yieldToScheduler();
  }
  s.current->waitLine = -1;
  s.current->waitingOn = nullptr;
}

inline void syncthreads(int line) {
  State& s = state();
  waitAt(s.block, s.threads, line, 0);
}

/** Every lane of mask puts a value; returns all 32 slots (slots of lanes outside mask are poisoned). */
inline std::vector<unsigned long long> warpExchange(unsigned mask, unsigned long long v, int line) {
  State& s = state();
  unsigned tid = s.current->idx.x;
  unsigned lane = tid & 31u;
  unsigned warp = tid >> 5;
  if (!(mask >> lane & 1u)) {
    fail("lane calls a warp collective outside its mask", line);
  }
  for (unsigned l = 0; l < 32; l++) {
    if ((mask >> l & 1u) && warp * 32 + l >= s.threads) {
      fail("mask names a lane that does not exist", line);
    }
  }
  Barrier& b = s.warps[warp];
  std::vector<unsigned long long>& slots = s.warpSlots[warp];
  slots[lane] = v;
  waitAt(b, __builtin_popcount(mask), line, mask);
  std::vector<unsigned long long> copy = slots;
  for (unsigned l = 0; l < 32; l++) {
    if (!(mask >> l & 1u)) {
      copy[l] = 0xdeadbeefdeadbeefull;
    }
  }
  waitAt(b, __builtin_popcount(mask), line, mask);
  return copy;
}

/**
 * Runs kernel body over a grid: blocks in order, threads as fibers. dynamicSharedBytes is the
 * launch's dynamic shared memory (filled with garbage so that reads before writes show).
 */
inline void launch(unsigned grid, unsigned block, size_t dynamicSharedBytes, std::function<void()> body);

}  // namespace emu

inline dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;
#define threadIdx (emu::state().current->idx)

inline void emu::launch(unsigned grid, unsigned block, size_t dynamicSharedBytes, std::function<void()> body) {
  State& s = state();
  if (block == 0 || block > 1024 || grid == 0) {
    std::fprintf(stderr, "EMULATOR ERROR: bad launch %u x %u\n", grid, block);
    std::abort();
  }
  s.body = std::move(body);
  s.threads = block;
  launchCounter()++;
  gridDim = dim3{grid, 1, 1};
  blockDim = dim3{block, 1, 1};
  s.fibers.assign(block, Fiber{});
  for (auto& f : s.fibers) {
    f.stack.resize(256 * 1024);
  }
  unsigned warps = (block + 31) / 32;
  for (unsigned b = 0; b < grid; b++) {
    blockIdx = dim3{b, 0, 0};
    s.block = Barrier{};
    s.warps.assign(warps, Barrier{});
    s.warpSlots.assign(warps, std::vector<unsigned long long>(32, 0));
    s.dynamicShared.assign(dynamicSharedBytes + 8, 0xa5);
    for (unsigned t = 0; t < block; t++) {
      Fiber& f = s.fibers[t];
      f.idx = uint3{t, 0, 0};
      f.done = false;
      f.waitLine = -1;
      f.waitingOn = nullptr;
      f.waitingGen = 0;
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = f.stack.data();
      f.ctx.uc_stack.ss_size = f.stack.size();
      f.ctx.uc_link = &s.scheduler;
      makecontext(&f.ctx, fiberEntry, 0);
    }
    unsigned live = block;
    s.finished = 0;
    // Three schedules, chosen per block so that every launch of several blocks sees them all:
    // round-robin in a varying order; always the lowest-numbered runnable thread first (warp 0
    // runs ahead of the others as far as barriers let it); always the highest-numbered first.
    // A read of shared memory that lacks a barrier after the write it needs fails under one of them.
    unsigned mode = (launches() + b + scheduleOffset()) % 3;
    while (live > 0) {
      unsigned long long before = s.epoch;
      s.round++;
      auto runnable = [&](const Fiber& f) {
        return !f.done && (f.waitingOn == nullptr || f.waitingOn->gen != f.waitingGen);
      };
      auto run = [&](Fiber& f) {
        s.current = &f;
#ifdef EMU_ASAN
        void* fake = nullptr;
        __sanitizer_start_switch_fiber(&fake, f.stack.data(), f.stack.size());
#endif
        swapcontext(&s.scheduler, &f.ctx);
#ifdef EMU_ASAN
        __sanitizer_finish_switch_fiber(fake, &s.schedBottom, &s.schedSize);
#endif
        s.current = nullptr;
      };
      if (mode == 0) {
        for (unsigned k = 0; k < block; k++) {
          unsigned t;
          switch (s.round % 3) {
            case 0: t = k; break;
            case 1: t = block - 1 - k; break;
            default: t = std::gcd(37u, block) == 1u ? (k * 37u + s.round) % block : k; break;
          }
          if (!s.fibers[t].done) {
            run(s.fibers[t]);
          }
        }
      } else {
        // Run the first runnable thread in priority order; one step per round. Progress means
        // that some thread could run: if none can, all wait at barriers that cannot complete.
        bool ran = false;
        for (unsigned k = 0; k < block && !ran; k++) {
          Fiber& f = s.fibers[mode == 1 ? k : block - 1 - k];
          if (runnable(f)) {
            run(f);
            ran = true;
          }
        }
        if (ran) {
          before = s.epoch - 1;  // counts as progress for the check below
        }
      }
      live = block - s.finished;
      if (live > 0 && s.epoch == before) {
        std::fprintf(stderr, "EMULATOR ERROR: deadlock in block %u: %u threads wait, %u finished.",
            b, live, block - live);
        for (auto& f : s.fibers) {
          if (!f.done) {
            std::fprintf(stderr, " t%u@%d", f.idx.x, f.waitLine);
            if (f.idx.x > 40) break;
          }
        }
        std::fprintf(stderr, "\n");
        std::abort();
      }
    }
  }
}

// ---- CUDA keywords and intrinsics -------------------------------------------------------------

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static
#define __syncthreads() emu::syncthreads(__LINE__)

inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline float __double2float_rn(double a) { return (float)a; }
inline int __popc(unsigned v) { return __builtin_popcount(v); }

inline float atomicAdd(float* p, float v) { float o = *p; *p = o + v; return o; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
inline int atomicAdd(int* p, int v) { int o = *p; *p = o + v; return o; }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  unsigned long long o = *p; *p = o + v; return o;
}
inline int atomicCAS(int* p, int compare, int v) { int o = *p; if (o == compare) *p = v; return o; }

#define __ballot_sync(mask, pred) emu_ballot((mask), (pred), __LINE__)
inline unsigned emu_ballot(unsigned mask, bool pred, int line) {
  std::vector<unsigned long long> all = emu::warpExchange(mask, pred ? 1 : 0, line);
  unsigned out = 0;
  for (unsigned l = 0; l < 32; l++) {
    if ((mask >> l & 1u) && all[l]) out |= 1u << l;
  }
  return out;
}

template <class T>
inline unsigned long long emu_bits(T v) {
  unsigned long long b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
inline T emu_from_bits(unsigned long long b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

#define __shfl_down_sync(mask, v, delta) emu_shfl_down((mask), (v), (delta), __LINE__)
template <class T>
inline T emu_shfl_down(unsigned mask, T v, int delta, int line) {
  std::vector<unsigned long long> all = emu::warpExchange(mask, emu_bits(v), line);
  unsigned lane = threadIdx.x & 31u;
  unsigned src = lane + (unsigned)delta;
  if (src >= 32) {
    return v;  // out of the warp: own value, as the hardware does
  }
  if (!(mask >> src & 1u)) {
    emu::fail("shuffle reads a lane outside the mask", line);
  }
  return emu_from_bits<T>(all[src]);
}

#define __shfl_sync(mask, v, srcLane) emu_shfl((mask), (v), (srcLane), __LINE__)
template <class T>
inline T emu_shfl(unsigned mask, T v, int srcLane, int line) {
  std::vector<unsigned long long> all = emu::warpExchange(mask, emu_bits(v), line);
  unsigned src = (unsigned)srcLane & 31u;
  if (!(mask >> src & 1u)) {
    emu::fail("shuffle reads a lane outside the mask", line);
  }
  return emu_from_bits<T>(all[src]);
}

#define __shfl_xor_sync(mask, v, laneMask) emu_shfl_xor((mask), (v), (laneMask), __LINE__)
template <class T>
inline T emu_shfl_xor(unsigned mask, T v, int laneMask, int line) {
  std::vector<unsigned long long> all = emu::warpExchange(mask, emu_bits(v), line);
  unsigned src = ((threadIdx.x & 31u) ^ (unsigned)laneMask) & 31u;
  if (!(mask >> src & 1u)) {
    emu::fail("shuffle reads a lane outside the mask", line);
  }
  return emu_from_bits<T>(all[src]);
}

/**
 * CUDA's expf (built without --use_fast_math) is documented to within 2 ulp of e^x; the host's is
 * closer. So that the oracles' tolerances answer for the GPU's worst rather than the host's best,
 * the kernels' expf here (kernel_tests.cpp maps the name onto this) is the correctly rounded value
 * moved by -2 .. +2 ulp, chosen by a hash of the argument (never onto infinity or zero).
 */
inline float emu_expf(float x) {
  float e = (float)std::exp((double)x);
  if (!std::isfinite(e) || e == 0.0f) {
    return e;
  }
  int k = (int)(((__float_as_uint(x) * 2654435761u) >> 16) % 5u) - 2;
  for (; k > 0; k--) {
    float up = std::nextafter(e, INFINITY);
    if (std::isinf(up)) break;
    e = up;
  }
  for (; k < 0; k++) {
    float down = std::nextafter(e, 0.0f);
    if (down == 0.0f) break;
    e = down;
  }
  return e;
}

#define __match_any_sync(mask, v) emu_match_any((mask), (v), __LINE__)
template <class T>
inline unsigned emu_match_any(unsigned mask, T v, int line) {
  std::vector<unsigned long long> all = emu::warpExchange(mask, emu_bits(v), line);
  unsigned out = 0;
  for (unsigned l = 0; l < 32; l++) {
    if ((mask >> l & 1u) && all[l] == emu_bits(v)) out |= 1u << l;
  }
  return out;
}
