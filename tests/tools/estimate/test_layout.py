from tools.estimate import ClusterConfig, choose_layout, memory_per_gpu, shape_for_params


def test_tensor_parallel_divides_per_gpu_memory() -> None:
    shape = shape_for_params(7e9)
    one = memory_per_gpu(shape, tp=1, pp=1, ep=1, dp=8, micro_batch_size=1)
    two = memory_per_gpu(shape, tp=2, pp=1, ep=1, dp=8, micro_batch_size=1)
    assert two < one


def test_chosen_layout_fits_and_uses_every_gpu() -> None:
    cluster = ClusterConfig(gpu="H100", gpus_per_node=8, nodes=4)
    layout = choose_layout(shape_for_params(7e9), cluster)
    assert layout is not None
    assert layout.gpus == cluster.num_gpus
    assert layout.memory_gib_per_gpu <= layout.memory_gib_available
    assert layout.global_batch_size % (layout.dp * layout.micro_batch_size) == 0


def test_seventy_billion_needs_model_parallelism() -> None:
    layout = choose_layout(shape_for_params(70e9), ClusterConfig(gpu="H100", gpus_per_node=8, nodes=4))
    assert layout is not None
    assert layout.tp * layout.pp > 1


def test_a_model_too_big_for_the_cluster_has_no_layout() -> None:
    assert (
        choose_layout(shape_for_params(70e9), ClusterConfig(gpu="A100-40GB", gpus_per_node=1, nodes=1))
        is None
    )


def test_moe_layout_shards_experts_when_needed() -> None:
    shape = shape_for_params(30e9, num_experts=16)
    layout = choose_layout(shape, ClusterConfig(gpu="H100", gpus_per_node=8, nodes=2))
    assert layout is not None
    assert shape.num_experts % layout.ep == 0 and layout.dp % layout.ep == 0
