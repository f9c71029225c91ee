import pytest
import yaml

from skelbench import config as C
from skelbench.registry import Registry, RegistryError, load_plugin

from .conftest import load_all


def test_registry_duplicates_and_close_matches():
    r = Registry("method")
    r.register("skeletonclr")(object)
    with pytest.raises(RegistryError, match="already registered"):
        r.register("skeletonclr")(object)
    with pytest.raises(RegistryError, match="did you mean skeletonclr"):
        r.get("skeletonclrr")


def test_plugin_file_registers_a_method(tmp_path):
    load_all()
    from skelbench.registry import METHODS
    plugin = tmp_path / "my_plugin.py"
    plugin.write_text(
        "from skelbench.registry import METHODS\n"
        "from skelbench.methods.baselines import RandomInit\n"
        "@METHODS.register('plugin-floor-test')\n"
        "class PluginFloor(RandomInit):\n"
        "    pass\n")
    load_plugin(str(plugin))
    assert "plugin-floor-test" in METHODS


def test_config_hash_ignores_seed_and_paths(project):
    load_all()
    cfg = C.resolve("skeletonclr", "synth-xsub")
    h = C.config_hash(cfg)
    assert C.config_hash({**cfg, "seed": 3, "paths": {"results": "/elsewhere"}, "device": "cuda"}) == h
    changed = C.apply_overrides(cfg, ["pretrain.lr=0.2"])
    assert C.config_hash(changed) != h


def test_card_schedule_then_overrides(project):
    load_all()
    cfg = C.resolve("skeletonclr", "synth-xsub", overrides=["pretrain.epochs=2"])
    assert cfg["pretrain"]["epochs"] == 2            # --set wins over the card's schedule (1)
    assert cfg["args"]["queue_size"] == 64          # the card caps the recipe's 32768
    assert cfg["pretrain"]["lr"] == 0.1             # recipe value kept
    sup = C.resolve("supervised", "synth")          # the card's queue cap does not apply here
    assert "queue_size" not in sup["args"] and sup["data"]["split"] == "synth-xsub"


def test_override_errors_name_the_key(project):
    load_all()
    with pytest.raises(C.ConfigError, match="did you mean pretrain.epochs"):
        C.resolve("skeletonclr", "synth-xsub", overrides=["pretrain.epoch=3"])
    with pytest.raises(C.ConfigError, match="expected int"):
        C.resolve("skeletonclr", "synth-xsub", overrides=["pretrain.epochs=many"])
    with pytest.raises(C.ConfigError, match="did you mean synth-xsub"):
        C.resolve("skeletonclr", "synth-xsb")


def test_init_overrides_reach_phase_1_only(project):
    load_all()
    base = C.resolve("actclr", "synth-xsub")
    both = C.resolve("actclr", "synth-xsub", overrides=["args.momentum=0.5"])
    assert both["args"]["momentum"] == both["init"]["args"]["momentum"] == 0.5
    # A phase-2 ablation that keeps its phase 1: the parent's config (and hash) as without it.
    kept = C.resolve("actclr", "synth-xsub", overrides=[
        "args.momentum=0.5", f"init.args.momentum={base['init']['args']['momentum']}"])
    assert kept["args"]["momentum"] == 0.5
    assert C.config_hash(kept["init"]) == C.config_hash(base["init"])
    only = C.resolve("actclr", "synth-xsub", overrides=["init.pretrain.epochs=3"])
    assert only["init"]["pretrain"]["epochs"] == 3 and only["pretrain"] == base["pretrain"]
    with pytest.raises(C.ConfigError, match="did you mean init.args.momentum"):
        C.resolve("actclr", "synth-xsub", overrides=["init.args.momentm=0.5"])
    with pytest.raises(C.ConfigError, match="skeletonclr has no phase 1"):
        C.resolve("skeletonclr", "synth-xsub", overrides=["init.args.momentum=0.5"])
    with pytest.raises(C.ConfigError, match="phase 2's backbone"):
        C.resolve("actclr", "synth-xsub", overrides=["init.backbone.dropout=0.5"])


def test_recipe_with_unknown_arg_is_refused(project):
    load_all()
    path = project / "methods" / "skeletonclr.yaml"
    path.write_text(path.read_text().replace("temperature:", "temprature:"))
    with pytest.raises(C.ConfigError, match="args.temprature .*did you mean 'temperature'"):
        C.resolve("skeletonclr", "synth-xsub")


def test_data_fingerprint_enters_the_hash(project):
    load_all()
    import yaml
    cfg = C.resolve("skeletonclr", "synth-xsub")
    card = project / "datasets" / "synth.yaml"
    data = yaml.safe_load(card.read_text())
    data["generator"]["seed"] = 1                  # another dataset, same names
    card.write_text(yaml.safe_dump(data))
    other = C.resolve("skeletonclr", "synth-xsub")
    assert other["data"]["fingerprint"] != cfg["data"]["fingerprint"]
    assert C.config_hash(C.pretrain_section(other)) != C.config_hash(C.pretrain_section(cfg))


def test_card_backbone_replaces_the_recipe_spec_and_flag_wins(project):
    load_all()
    assert C.resolve("skeletonclr", "synth-xsub")["backbone"]["name"] == "stgcn-tiny"
    assert C.resolve("skeletonclr", "synth-xsub", backbone="stgcn")["backbone"] == {"name": "stgcn"}
    with pytest.raises(Exception, match="unknown backbone 'stgcnn'.*did you mean stgcn"):
        C.resolve("skeletonclr", "synth-xsub", backbone="stgcnn")


def test_card_schedule_per_class_and_recipe_inheritance(project):
    load_all()
    card = yaml.safe_load((project / "datasets" / "synth.yaml").read_text())
    card["schedule"]["pretrain"]["lr"] = 0.005
    card["schedule"]["classes"] = {"supervised": {"pretrain": {"lr": 0.1}},
                                   "tranclr": {"args": {"topk": 5}}}
    (project / "datasets" / "synth.yaml").write_text(yaml.safe_dump(card))
    assert C.resolve("skeletonclr")["pretrain"]["lr"] == 0.005
    assert C.resolve("supervised")["pretrain"]["lr"] == 0.1
    # A class's args reach that class only (AimCLR has a topk of its own).
    assert C.resolve("tranclr-intra")["args"]["topk"] == 5
    assert C.resolve("aimclr")["args"]["topk"] == 1
    assert C.resolve("tranclr", overrides=["args.topk=7"])["args"]["topk"] == 7
    ablation = C.resolve("tranclr-intra")
    assert ablation["args"]["levels"] == ["intra"] and ablation["class"] == "tranclr"
    assert ablation["args"]["tau_k"] == C.resolve("tranclr")["args"]["tau_k"]
    (project / "methods" / "loop.yaml").write_text("base: loop\nclass: tranclr\n")
    with pytest.raises(C.ConfigError, match="inherits from itself"):
        C.load_recipe("loop")


def test_misspelt_recipe_and_card_keys_are_refused_by_name(project):
    load_all()
    path = project / "methods" / "skeletonclr.yaml"
    text = path.read_text()
    path.write_text(text.replace("  weight_decay: 1.0e-4", "  weight_decay: 1.0e-4\n  warmup_epoch: 5", 1))
    with pytest.raises(C.ConfigError, match=r"skeletonclr.yaml: pretrain.warmup_epoch .*did you mean 'warmup_epochs'"):
        C.resolve("skeletonclr", "synth-xsub")
    path.write_text(text.replace("linear:", "lineer:\n  epochs: 3\nlinear:", 1))
    with pytest.raises(C.ConfigError, match=r"lineer .*did you mean 'linear'"):
        C.resolve("skeletonclr", "synth-xsub")
    path.write_text(text)
    card = project / "datasets" / "synth.yaml"
    card.write_text(card.read_text().replace("  pretrain:", "  pretrian:", 1))
    with pytest.raises(C.ConfigError, match=r"synth.yaml: schedule.pretrian .*did you mean 'pretrain'"):
        C.resolve("skeletonclr", "synth-xsub")
    tiny = yaml.safe_load(card.read_text().replace("  pretrian:", "  pretrain:", 1))
    tiny["schedule"]["classes"] = {"tranclr": {"args": {"top_k": 5}}}
    card.write_text(yaml.safe_dump(tiny))
    with pytest.raises(C.ConfigError, match=r"synth.yaml: schedule.classes.tranclr.args.top_k .*did you mean 'topk'"):
        C.resolve("tranclr", "synth-xsub")
