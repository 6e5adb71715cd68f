"""The top-level API: every advertised name resolves, and importing the package stays light."""

import subprocess
import sys

import beatssl_lite


def test_every_public_name_resolves():
    missing = [name for name in beatssl_lite.__all__ if getattr(beatssl_lite, name, None) is None]
    assert not missing


def test_lazy_names_are_the_objects_of_their_modules():
    from beatssl_lite import features, model, pretrain

    assert beatssl_lite.extract is features.extract
    assert beatssl_lite.BeatSSLModel is model.BeatSSLModel
    # a module and a function of the same name: the module stays the module
    assert beatssl_lite.pretrain is pretrain


def test_import_does_not_load_torch():
    code = "import sys, beatssl_lite; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no_such_thing"):
        beatssl_lite.no_such_thing
