"""reproduce: the runner on a few synthetic records (tiny encoder, 2 pretraining steps, 1 seed): the summary's
entries, resume per unit, --rows/--tasks, the refusals (synthetic data not asked for, a results folder of another
configuration), the markdown table against the paper's published Table 1, and the statistics against scipy."""

import json
import shutil

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from beatssl_lite import cli, downstream, pretrain as pretrain_module
from beatssl_lite.reproduce import (CONFIG_TASKS, SUMMARY_FILE, TABLE_FILE, Protocol, ReproductionError, data_identity,
                                    pretraining_seconds, read_units, reproduce, select_configs, select_tasks,
                                    unit_path, wilcoxon_families)
from beatssl_lite.synthetic import make_synthetic_dataset

#: Table 1 of Rizqyawan et al. (arXiv 2601.16147), as the spec copies it: T1 AUROC, T1 F1, T2 F1.
PUBLISHED = {"row1": ("0.811", "0.595", "0.802"), "row8": ("0.681", "0.247", "0.784"),
             "row9": ("0.843", "0.622", "0.911"), "row14": ("0.805", "0.537", "0.878")}

QUICK = ["--size", "tiny", "--data", "synthetic", "--n-records", "40", "--pretrain-steps", "2", "--bootstrap", "20",
         "--no-progress"]


def run(out, *extra, cache_dir):
    return cli.main(["reproduce", *QUICK, "--out", str(out), "--cache-dir", str(cache_dir), *extra])


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, cache_dir):
    """row1 and supervised, seed 0, every task of each."""
    out = tmp_path_factory.mktemp("results") / "results"
    assert run(out, "--seeds", "1", "--rows", "row1", "supervised", cache_dir=cache_dir) == 0
    return out


@pytest.fixture
def copy_of_base(base_run, tmp_path):
    out = tmp_path / "results"
    shutil.copytree(base_run, out)
    return out


class Counter:
    def __init__(self, monkeypatch):
        self.calls = []
        for module, name in ((pretrain_module, "pretrain"), (downstream, "evaluate_classification"),
                             (downstream, "evaluate_segmentation")):
            original = getattr(module, name)
            monkeypatch.setattr(module, name, self._wrap(name, original))

    def _wrap(self, name, original):
        def counted(*args, **kwargs):
            self.calls.append(name)
            return original(*args, **kwargs)
        return counted


def test_summary_holds_one_entry_per_configuration_seed_task_and_metric(base_run):
    entries = json.loads((base_run / SUMMARY_FILE).read_text())
    expected = {("row1", 0, "ptbxl-finetune", "auroc"), ("row1", 0, "ptbxl-finetune", "f1"),
                ("row1", 0, "ptbxl-probe", "auroc"), ("row1", 0, "ptbxl-probe", "f1"),
                ("row1", 0, "ludb", "f1"), ("row1", 0, "ludb", "dice"),
                ("supervised", 0, "ptbxl-finetune", "auroc"), ("supervised", 0, "ptbxl-finetune", "f1"),
                ("supervised", 0, "ludb", "f1"), ("supervised", 0, "ludb", "dice")}
    keys = [(e["config"], e["seed"], e["task"], e["metric"]) for e in entries]
    assert sorted(keys) == sorted(expected)  # each exactly once
    for entry in entries:
        assert {"config", "seed", "task", "metric", "value", "protocol", "git_commit", "machine",
                "wall_time_s"} <= set(entry)
        assert entry["value"] is None or 0 <= entry["value"] <= 1
        unit = json.loads((base_run / (entry["unit"] + ".json")).read_text())
        assert unit["values"][entry["metric"]] == entry["value"]
    # the unit files carry the full protocol and provenance
    unit = json.loads(unit_path(base_run, "row1", 0, "ludb").read_text())
    assert unit["protocol"]["encoder_input_fs_hz"] == 100.0 and unit["protocol"]["dataset_fs_hz"] == 500.0
    assert unit["pretraining"]["pretrained"] and unit["pretraining"]["steps"] == 2
    assert unit["pretraining"]["config"]["train"]["seed"] == 0 and unit["encoder_training"] == "fine-tuned"
    assert unit["data"]["source"] == "synthetic"
    assert unit["git"]["commit"] == "unknown" or len(unit["git"]["commit"]) == 40
    supervised = json.loads(unit_path(base_run, "supervised", 0, "ptbxl-finetune").read_text())
    assert supervised["pretraining"]["pretrained"] is False
    assert (base_run / "figures" / "scores.png").read_bytes()[:4] == b"\x89PNG"


def test_rerun_skips_finished_units_and_a_missing_unit_is_redone_alone(copy_of_base, cache_dir, monkeypatch):
    counter = Counter(monkeypatch)
    before = {p: p.stat().st_mtime_ns for p in (copy_of_base / "units").rglob("*.json")}
    assert run(copy_of_base, "--seeds", "1", "--rows", "row1", "supervised", cache_dir=cache_dir) == 0
    assert counter.calls == []
    assert {p: p.stat().st_mtime_ns for p in (copy_of_base / "units").rglob("*.json")} == before

    unit_path(copy_of_base, "row1", 0, "ptbxl-probe").unlink()
    curve = (copy_of_base / "pretrain" / "row1" / "seed0" / "loss_curve.csv").read_text()
    assert run(copy_of_base, "--seeds", "1", "--rows", "row1", "supervised", cache_dir=cache_dir) == 0
    # the finished pretraining is resumed (and returns at once): no step is added
    assert counter.calls == ["pretrain", "evaluate_classification"]
    assert (copy_of_base / "pretrain" / "row1" / "seed0" / "loss_curve.csv").read_text() == curve
    assert unit_path(copy_of_base, "row1", 0, "ptbxl-probe").exists()
    redone = unit_path(copy_of_base, "row1", 0, "ptbxl-probe")
    after = {p: p.stat().st_mtime_ns for p in (copy_of_base / "units").rglob("*.json") if p != redone}
    assert after == {p: t for p, t in before.items() if p != redone}


def test_rows_and_tasks_select_units(copy_of_base, cache_dir, monkeypatch):
    counter = Counter(monkeypatch)
    assert run(copy_of_base, "--seeds", "1", "--rows", "random-init", "--tasks", "ludb", cache_dir=cache_dir) == 0
    assert counter.calls == ["evaluate_segmentation"]  # no pretraining for a baseline
    units = {(u["config"], u["seed"], u["task"]) for u in read_units(copy_of_base)}
    assert ("random-init", 0, "ludb") in units and ("random-init", 0, "ptbxl-probe") not in units
    unit = json.loads(unit_path(copy_of_base, "random-init", 0, "ludb").read_text())
    assert unit["encoder_training"] == "frozen" and "frozen encoder" in unit["protocol"]["training"]
    assert select_configs(["baselines", "row9"]) == ("row9", "random-init", "supervised")
    assert select_configs(["beat-ssl"]) == ("row9",)
    assert select_tasks(["ludb", "ptbxl-probe"]) == ("ptbxl-probe", "ludb")
    for bad in (lambda: select_configs(["row15"]), lambda: select_tasks(["ptbxl"])):
        with pytest.raises(ReproductionError, match="unknown"):
            bad()
    assert set(CONFIG_TASKS["supervised"]) == {"ptbxl-finetune", "ludb"}


def test_ludb_augmentation_reaches_the_task_and_is_recorded(tmp_path, cache_dir):
    out = tmp_path / "augmented"
    assert run(out, "--seeds", "1", "--rows", "random-init", "--tasks", "ludb", "--ludb-augment", "shift", "stretch",
               cache_dir=cache_dir) == 0
    assert json.loads((out / "run.json").read_text())["protocol"]["ludb_augment"] == ["stretch", "shift"]
    unit = json.loads(unit_path(out, "random-init", 0, "ludb").read_text())
    assert unit["protocol"]["augment"].startswith("stretch: time x U(0.9, 1.1); shift: circular shift within")
    assert "training batches augmented (stretch, shift)" in unit["protocol_summary"]
    with pytest.raises(ReproductionError, match=r"ludb_augment: unknown \['flip'\]"):
        Protocol.for_size("tiny", ludb_augment=("flip",))


def test_ludb_k_fold_tests_every_record_once(tmp_path, cache_dir):
    out = tmp_path / "kfold"
    assert run(out, "--seeds", "1", "--rows", "random-init", "--tasks", "ludb", "--ludb-folds", "3",
               cache_dir=cache_dir) == 0
    unit = json.loads(unit_path(out, "random-init", 0, "ludb").read_text())
    ludb = make_synthetic_dataset(n_records=10, fs=500.0, seed=1)  # the LUDB stand-in of --n-records 40
    assert sorted(unit["protocol"]["test_record_ids"]) == sorted(ludb.record_ids)
    assert [fold["fold"] for fold in unit["folds"]] == [0, 1, 2]
    assert sum(len(f["test_record_ids"]) for f in unit["folds"]) == len(ludb)
    assert "3 seeded" in unit["protocol"]["split"]


def test_synthetic_data_is_refused_unless_asked(tmp_path, capsys):
    empty = tmp_path / "empty-root"
    empty.mkdir()
    with pytest.raises(SystemExit) as stop:
        cli.main(["reproduce", "--size", "tiny", "--data", str(empty), "--out", str(tmp_path / "r"), "--no-progress"])
    assert stop.value.code == 2
    message = capsys.readouterr().err
    assert "ptb-xl" in message and "--data synthetic" in message
    assert not (tmp_path / "r").exists()
    # datasets handed in that are synthetic, under a data name that is not 'synthetic'
    ptbxl = make_synthetic_dataset(n_records=20, fs=100.0)
    ludb = make_synthetic_dataset(n_records=10, fs=500.0)
    with pytest.raises(ReproductionError, match="synthetic data was not asked for"):
        reproduce(tmp_path / "r", data=str(empty), size="tiny", seeds=1, datasets=(ptbxl, ludb), progress=False)


def test_a_results_folder_of_another_configuration_is_refused(copy_of_base, cache_dir, capsys):
    for extra, difference in ((["--ludb-epochs", "2"], "ludb_epochs: 1 != 2"),
                              (["--n-records", "50"], "n_records: 40 != 50"),
                              (["--size", "cpu"], "size: 'tiny' != 'cpu'"),
                              (["--ludb-augment", "shift"], "ludb_augment: '<missing>' != ['shift']")):
        with pytest.raises(SystemExit) as stop:
            run(copy_of_base, "--seeds", "1", "--rows", "row1", *extra, cache_dir=cache_dir)
        assert stop.value.code == 2
        message = capsys.readouterr().err
        assert "another configuration" in message and difference in message
        assert "size='tiny'" in message  # names the folder's configuration
    assert len(read_units(copy_of_base)) == 5  # nothing was added or removed


def test_report_only_needs_no_data_and_a_run_needs_data(base_run, copy_of_base, capsys):
    (copy_of_base / TABLE_FILE).unlink()
    assert cli.main(["reproduce", "--report-only", "--out", str(copy_of_base)]) == 0
    assert (copy_of_base / TABLE_FILE).read_text() == (base_run / TABLE_FILE).read_text()
    with pytest.raises(SystemExit) as stop:
        cli.main(["reproduce", "--out", str(copy_of_base), "--no-progress"])
    assert stop.value.code == 2 and "--data: required" in capsys.readouterr().err


def test_markdown_table_holds_the_papers_values_beside_ours(base_run):
    text = (base_run / TABLE_FILE).read_text()
    lines = {}
    for line in text.splitlines():  # the first table holding a name is Table 1 or the baselines
        if line.startswith("| "):
            lines.setdefault(line.split("|")[1].strip(), line)
    for row, values in PUBLISHED.items():
        cells = [cell.strip() for cell in lines[row[3:]].split("|")[1:-1]]
        assert (cells[4], cells[7], cells[10]) == values
    entries = json.loads((base_run / SUMMARY_FILE).read_text())
    ours = [e["value"] for e in entries if (e["config"], e["task"], e["metric"]) == ("row1", "ptbxl-probe", "auroc")]
    cells = [cell.strip() for cell in lines["1"].split("|")[1:-1]]
    assert cells[6] == f"{ours[0]:.3f}" and cells[-1] == "1"
    assert "powerless" in text and "Resolvable or not" in text
    # every unit has its interval, around its own value
    statistics = json.loads((base_run / "statistics.json").read_text())
    assert len(statistics["intervals"]) == 5
    for row in statistics["intervals"]:
        value = next(e["value"] for e in entries if (e["config"], e["seed"], e["task"], e["metric"]) ==
                     (row["config"], row["seed"], row["task"], row["metric"]))
        assert row["interval"]["estimate"] == pytest.approx(value)
    assert lines["supervised"].count("|") == 8


def _unit(config, seed, task, value):
    return {"config": config, "seed": seed, "task": task, "folds": None, "values": {"auroc": value, "f1": 1 - value}}


def test_wilcoxon_vs_the_references_matches_scipy_with_bonferroni():
    rng = np.random.default_rng(0)
    values = {config: rng.random(6) for config in ("row1", "row2", "row9")}
    units = [_unit(config, seed, "ptbxl-finetune", float(v[seed])) for config, v in values.items() for seed in range(6)]
    families = [f for f in wilcoxon_families(units) if f.get("reference") and f["metric"] == "auroc"]
    family = next(f for f in families if f["reference"] == "row9")
    assert [t["b"] for t in family["tests"]] == ["row1", "row2"]
    for test in family["tests"]:
        p = scipy_stats.wilcoxon(values["row9"], values[test["b"]]).pvalue
        assert test["p"] == pytest.approx(p) and test["p_bonferroni"] == pytest.approx(min(1, 2 * p))
        assert test["n_pairs"] == 6
    # a configuration missing a seed is tested on the seeds it shares with the reference, and said to be
    units = [u for u in units if not (u["config"] == "row2" and u["seed"] == 5)]
    family = next(f for f in wilcoxon_families(units) if f.get("reference") == "row1" and f["metric"] == "auroc")
    assert family["partial"] == ["row2"] and family["left_out"] == []
    test = next(t for t in family["tests"] if t["b"] == "row2")
    assert test["n_pairs"] == 5 and test["n_comparisons"] == 2
    assert test["p"] == pytest.approx(scipy_stats.wilcoxon(values["row1"][:5], values["row2"][:5]).pvalue)
    # the reference missing a seed: every comparison on its five, none silenced
    units = [u for u in units if not (u["config"] == "row9" and u["seed"] == 0)]
    family = next(f for f in wilcoxon_families(units) if f.get("reference") == "row9" and f["metric"] == "auroc")
    assert [(t["b"], t["n_pairs"]) for t in family["tests"]] == [("row1", 5), ("row2", 4)]
    assert family["partial"] == ["row2"]  # row1 has the reference's seeds and one more; row2 lacks one of them
    # a configuration with no seed in common is left out, and said to be
    units.append(_unit("row3", 7, "ptbxl-finetune", 0.5))
    family = next(f for f in wilcoxon_families(units) if f.get("reference") == "row9" and f["metric"] == "auroc")
    assert family["left_out"] == ["row3"] and [t["b"] for t in family["tests"]] == ["row1", "row2"]


def test_pretraining_time_sums_resumed_segments():
    curve = [{"seconds": s} for s in (1.0, 2.0, 3.5, 0.5, 1.5, 0.7)]  # two interruptions
    assert pretraining_seconds(curve) == pytest.approx(3.5 + 1.5 + 0.7)
    assert pretraining_seconds([]) == 0


def test_data_identity_changes_with_the_records():
    a = make_synthetic_dataset(n_records=12, fs=100.0)
    b = make_synthetic_dataset(n_records=12, fs=100.0, seed=5)
    assert data_identity(a, a) == data_identity(a, a)
    assert data_identity(a, a)["ptbxl"]["record_ids_sha256"] != data_identity(b, a)["ptbxl"]["record_ids_sha256"]


def test_encoders_from_another_results_folder_replace_pretraining(base_run, tmp_path, cache_dir, monkeypatch, capsys):
    """A label-fraction study reuses the finished reproduction's encoders: no pretraining, the same weights, the
    source named in the unit; an encoder of another configuration, or none, is refused naming the file."""
    counter = Counter(monkeypatch)
    out = tmp_path / "fraction"
    assert run(out, "--seeds", "1", "--rows", "row1", "--tasks", "ptbxl-probe", "--label-fraction", "0.5",
               "--encoders-from", str(base_run), cache_dir=cache_dir) == 0
    assert "pretrain" not in counter.calls and counter.calls == ["evaluate_classification"]
    unit = json.loads(unit_path(out, "row1", 0, "ptbxl-probe").read_text())
    source = base_run / "pretrain" / "row1" / "seed0"
    assert unit["pretraining"]["reused_from"] == str(source)
    assert unit["protocol"]["label_fraction"] == 0.5
    original = json.loads(unit_path(base_run, "row1", 0, "ptbxl-probe").read_text())
    assert unit["protocol"]["encoder"] == original["protocol"]["encoder"]
    assert unit["pretraining"]["steps"] == original["pretraining"]["steps"] == 2
    with pytest.raises(SystemExit):  # the source's row1 was pretrained 2 steps, this run asks for 3
        run(tmp_path / "other", "--seeds", "1", "--rows", "row1", "--tasks", "ptbxl-probe", "--pretrain-steps", "3",
            "--encoders-from", str(base_run), cache_dir=cache_dir)
    assert "another configuration" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(tmp_path / "missing", "--seeds", "1", "--rows", "row2", "--tasks", "ptbxl-probe",
            "--encoders-from", str(base_run), cache_dir=cache_dir)
    assert "pretrain/row2/seed0/encoder.pt does not exist" in capsys.readouterr().err
    # encoder.pt is rewritten at every checkpoint: one taken mid-run is refused, not evaluated as if finished
    assert pretrain_module.encoder_progress(source / "encoder.pt") == (2, 2)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(base_run, unfinished)
    state = torch.load(unfinished / "pretrain/row1/seed0/encoder.pt", weights_only=True)
    torch.save({**state, "step": 1}, unfinished / "pretrain/row1/seed0/encoder.pt")
    with pytest.raises(SystemExit):
        run(tmp_path / "early", "--seeds", "1", "--rows", "row1", "--tasks", "ptbxl-probe",
            "--encoders-from", str(unfinished), cache_dir=cache_dir)
    assert "encoder.pt is an unfinished pretraining (step 1 of 2)" in capsys.readouterr().err


def test_find_results_looks_in_the_working_folder_its_parent_and_beatssl_results(tmp_path, monkeypatch):
    from beatssl_lite.reproduce import find_results
    monkeypatch.delenv("BEATSSL_RESULTS", raising=False)
    (tmp_path / "book").mkdir()
    assert find_results(tmp_path / "book") is None
    (tmp_path / "results" / "units").mkdir(parents=True)
    assert find_results(tmp_path / "book") is None  # units/ without run.json: not written by reproduce
    (tmp_path / "results" / "run.json").write_text("{}")
    assert find_results(tmp_path / "book") == (tmp_path / "results").resolve()  # a chapter runs in book/
    assert find_results(tmp_path) == (tmp_path / "results").resolve()  # the repository root
    other = tmp_path / "elsewhere"
    monkeypatch.setenv("BEATSSL_RESULTS", str(other))
    with pytest.raises(FileNotFoundError, match="BEATSSL_RESULTS=.*elsewhere"):
        find_results(tmp_path)  # a named folder that is not one is an error, not a silent fallback
    shutil.copytree(tmp_path / "results", other)
    assert find_results(tmp_path / "book") == other.resolve()


def test_seeds_option_reads_a_count_or_a_comma_list_and_names_what_it_got():
    from beatssl_lite.reproduce import ReproductionError, parse_seeds

    assert parse_seeds("3") == 3
    assert parse_seeds("0,2") == [0, 2]
    assert parse_seeds("2,") == [2]  # one seed other than 0: a count cannot say it
    for bad in ("0", "-1", "x", ",", "1,1", "1,-2", "a,b"):
        with pytest.raises(ReproductionError, match="--seeds"):
            parse_seeds(bad)
