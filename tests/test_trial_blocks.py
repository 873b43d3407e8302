"""A trial's rows do not depend on its chunking: the unit of randomness is a block of
RANDOM_BLOCK_PATIENTS patients (sampling with the indication's rejection, procedure draws, outcome
draws), not a chunk.  The same trial with chunk boundaries on and off the blocks, in this process
and in a process pool, gives identical rows (exact, every column but the chunk index)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mitrasim.cohort.adapter import sample_indicated_blocks, sample_indicated_inputs
from mitrasim.cohort.population import load_population
from mitrasim.cohort.trial import RANDOM_BLOCK_PATIENTS, CohortSolver, block_seeds, chunk_blocks, parse_trial, read_results, run_trial

B = RANDOM_BLOCK_PATIENTS
N = B + B // 4  # two blocks, the second one short


def _trial(chunk: int, population: str = "tvt_mixed", n: int = N):
    return parse_trial({
        "name": "blocks", "population": population, "n_patients": n, "seed": 11, "chunk_size": chunk,
        "arms": [{"name": "le1", "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 3}},
                 {"name": "le2", "strategy": {"stop_rule": "mr_le_2plus", "max_clips": 1}}],
    })  # fmt: skip


def _rows(out) -> pa.Table:
    t, _ = read_results(out)
    return t.drop_columns(["chunk"]).sort_by([("arm", "ascending"), ("patient_id", "ascending")])


@pytest.fixture(scope="module")
def one_chunk(tmp_path_factory):
    out = tmp_path_factory.mktemp("blocks") / "one"
    run_trial(_trial(N), out, workers=1, progress=False)
    return _rows(out)


def test_chunks_across_and_along_block_boundaries_give_identical_rows(one_chunk, tmp_path):
    """Chunks of B/2 + 3 patients: chunk boundaries inside both blocks, a chunk spanning the two."""
    chunk = B // 2 + 3
    trial = _trial(chunk)
    assert [list(chunk_blocks(trial, i)[0]) for i in range(trial.n_chunks)] == [[0], [0, 1], [1]]
    run_trial(trial, tmp_path / "a", workers=1, progress=False)
    assert _rows(tmp_path / "a").equals(one_chunk)


def test_a_process_pool_with_another_chunk_size_gives_identical_rows(one_chunk, tmp_path):
    run_trial(_trial(B), tmp_path / "p", workers=2, progress=False)
    assert _rows(tmp_path / "p").equals(one_chunk)


def test_blocks_sampled_together_equal_each_block_sampled_alone():
    """The batched rejection sampling of several blocks equals drawing each block on its own."""
    pop, st = load_population("tvt_mixed"), CohortSolver().settings()
    trial = _trial(N)
    seeds = [block_seeds(trial, b)[0] for b in (0, 1)]
    sizes = [12, 7]
    together, ei = sample_indicated_blocks(pop, sizes, seeds, st, [0, B])
    alone = [sample_indicated_inputs(pop, m, s, st, first_id=f) for m, s, f in zip(sizes, seeds, [0, B])]
    assert together.equals(pa.concat_tables([t for t, _ in alone]))
    assert ei is not None
    assert np.array_equal(ei.hr_bpm, np.concatenate([e.hr_bpm for _, e in alone]))
    assert [o for _, e in alone for o in e.overrides] == ei.overrides
    assert together.column("patient_id").to_pylist() == [*range(12), *range(B, B + 7)]


def test_block_streams_are_the_spawned_children_of_the_trial_seed():
    trial = _trial(N)
    for b in (0, 1, 7):
        want = np.random.SeedSequence(trial.seed).spawn(8)[b].spawn(3)
        got = block_seeds(trial, b)
        assert [g.generate_state(4).tolist() for g in got] == [w.generate_state(4).tolist() for w in want]
