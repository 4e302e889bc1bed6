"""conv1x1.environment.quiet_tensorflow: TensorFlow starts without its start-up lines.

Each test runs Python (or a Jupyter kernel) in a fresh process, since
TensorFlow can be imported only once per process, and without
TF_CPP_MIN_LOG_LEVEL in its environment, as a learner's kernel starts.
"""

import os
import subprocess
import sys
import textwrap

#: Lines TensorFlow writes on start-up from C++ (oneDNN, CUDA, CPU features, absl).
START_UP_WORDS = ("oneDNN", "cuda", "cuInit", "cpu_feature_guard", "absl")


def learner_env():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def run_python(code, **kwargs):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=learner_env(),
                          capture_output=True, text=True, timeout=300, **kwargs)


USE_TENSORFLOW = """
    import sys
    x = tf.constant([[1.0, 2.0]]) @ tf.constant([[3.0], [4.0]])
    layer = keras.layers.Conv2D(2, 1)
    y = layer(tf.ones((1, 4, 4, 3)))
    print(float(x[0, 0]), tuple(y.shape))
    print("a later message", file=sys.stderr)
"""


def test_quiet_tensorflow_leaves_standard_error_to_the_learner():
    loud = run_python("import tensorflow as tf\nimport keras\n" + textwrap.dedent(USE_TENSORFLOW))
    quiet = run_python("from conv1x1.environment import quiet_tensorflow\n"
                       "tf = quiet_tensorflow()\nimport keras\n" + textwrap.dedent(USE_TENSORFLOW))
    # Without it, TensorFlow writes its start-up lines here: the test can see them.
    assert loud.returncode == 0, loud.stderr
    assert any(word in loud.stderr for word in START_UP_WORDS), (
        "TensorFlow printed no start-up lines on this machine, so this test cannot "
        f"tell whether quiet_tensorflow silences them:\n{loud.stderr}")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "11.0 (1, 4, 4, 2)"
    assert quiet.stderr == "a later message\n"


def test_quiet_tensorflow_respects_an_explicit_log_level_and_imports_once(tmp_path):
    # Stand-ins that count their imports, so the test need not start TensorFlow.
    for name in ("tensorflow", "keras"):
        (tmp_path / f"{name}.py").write_text(
            "import builtins\nbuiltins.imports = getattr(builtins, 'imports', 0) + 1\n")
    result = run_python("""
        import builtins, os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"
        from conv1x1.environment import quiet_tensorflow
        tf = quiet_tensorflow()
        assert quiet_tensorflow() is tf
        print(os.environ["TF_CPP_MIN_LOG_LEVEL"], tf.__name__, builtins.imports)
    """, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "tensorflow", "2"]


def test_quiet_tensorflow_passes_an_import_error_on_and_restores_standard_error(tmp_path):
    (tmp_path / "tensorflow.py").write_text(
        "import sys\nprint('message from the import', file=sys.stderr)\n"
        "raise ImportError('tensorflow is broken here')\n")
    result = run_python("""
        import sys
        from conv1x1.environment import quiet_tensorflow
        try:
            quiet_tensorflow()
        except ImportError as err:
            print("caught:", err, file=sys.stderr)
        else:
            raise AssertionError("expected an ImportError")
    """, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "caught: tensorflow is broken here\n"


def test_importing_the_module_changes_nothing():
    result = run_python("""
        import os, sys
        import conv1x1.environment
        print("tensorflow" in sys.modules, "TF_CPP_MIN_LOG_LEVEL" in os.environ)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_a_kernel_running_a_first_cell_shows_no_start_up_lines(tmp_path):
    """What a learner sees: a chapter's first cell, run by a Jupyter kernel."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell("from conv1x1.environment import quiet_tensorflow\n"
                                  "tf = quiet_tensorflow()\nimport keras"),
        nbformat.v4.new_code_cell(textwrap.dedent(USE_TENSORFLOW)),
    ]
    saved = os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        if saved is not None:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = saved
    first, second = notebook.cells
    assert first.outputs == []
    streams = {(o["name"], o["text"]) for o in second.outputs if o["output_type"] == "stream"}
    assert streams == {("stdout", "11.0 (1, 4, 4, 2)\n"), ("stderr", "a later message\n")}
