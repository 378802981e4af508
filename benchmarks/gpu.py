"""A GPU epoch projected from this CPU's counts: the project is trained on GPUs but measured on a machine
without one, so the figure that matters there is estimated here, from assumptions printed beside it
rather than hidden in it."""

# What "a current datacenter GPU" is taken to be. Estimates, printed with the figures.
GPU_PEAK_TFLOPS = 156.0  # NVIDIA A100, TF32 tensor cores (TensorFlow's default for float32 convolutions and matmuls)
GPU_EFFICIENCY = 0.3  # the share of that peak small convolutions (batch 100–128, 7×7–28×28 maps) reach
GPU_LAUNCH_S = 5e-6  # host cost of launching one kernel (CUDA launch plus TensorFlow's executor), serial with the GPU
GPU_EIGH_S = 0.02  # a 1024×1024 float64 eigendecomposition (cuSOLVER), latency-bound: its FLOPs say too little


def gpu_projection(row, per_epoch):
    """A GPU epoch from this machine's counts: each step's FLOPs at GPU_EFFICIENCY of GPU_PEAK_TFLOPS
    plus its kernels at GPU_LAUNCH_S each, the loop's host cost per step as measured here, and the
    epoch's end: its host work as measured here, its sampling, classifier and Fréchet FLOPs on the GPU
    and GPU_EIGH_S for the Fréchet distance's eigenvalues."""
    rate = GPU_PEAK_TFLOPS * 1e12 * GPU_EFFICIENCY
    step = row["flops_per_step"] / rate + row["kernels_per_step"] * GPU_LAUNCH_S
    end = row.get("epoch_end", {}).get("30_eval")
    end_host, end_device = (end["host"], end["device_flops"] / rate + GPU_EIGH_S) if end else (0.0, 0.0)
    outside = per_epoch * row["host_s_per_step"] + end_host + end_device
    epoch = per_epoch * step + outside
    return {"step_s": step, "epoch_s": epoch, "share_outside_step": outside / epoch}


def assumptions():
    """The assumptions as the JSON records them: a projection read later must say what it assumed."""
    return {"peak_tflops": GPU_PEAK_TFLOPS, "efficiency": GPU_EFFICIENCY, "launch_s": GPU_LAUNCH_S, "eigh_s": GPU_EIGH_S}


def assumptions_line():
    return (
        f"projected GPU: {GPU_PEAK_TFLOPS:.0f} TFLOP/s peak (A100, TF32) at {GPU_EFFICIENCY:.0%} efficiency, "
        f"{GPU_LAUNCH_S * 1e6:.0f} µs per kernel launch, {GPU_EIGH_S * 1e3:.0f} ms for the FD's eigenvalues, "
        "the host costs measured here (estimates)"
    )
