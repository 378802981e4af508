"""The session helper builds the ConfigProto the flags ask for."""

from common.session import session_config


def test_defaults_reserve_80_percent_of_gpu_memory():
    config = session_config()
    assert abs(config.gpu_options.per_process_gpu_memory_fraction - 0.8) < 1e-6
    assert not config.gpu_options.allow_growth
    assert config.allow_soft_placement
    assert config.intra_op_parallelism_threads == 0 and config.inter_op_parallelism_threads == 0


def test_growth_fraction_and_threads():
    config = session_config(gpu_memory_fraction=0.3, allow_growth=True, intra_op_threads=2, inter_op_threads=1)
    assert abs(config.gpu_options.per_process_gpu_memory_fraction - 0.3) < 1e-6
    assert config.gpu_options.allow_growth
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (2, 1)
