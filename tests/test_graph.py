"""graph.to_dot and graph.render: the DOT text, parsed with two regexes, not a picture."""

import re
import shutil
import stat
import sys

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor
from tinygrad_hw.graph import render, to_dot

NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$', re.M)
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+);$", re.M)


def parse(dot: str) -> tuple[dict[str, tuple[list[str], str]], list[tuple[str, str]]]:
    """{node id: (label lines, other attributes)}, [(from, to)]."""
    nodes = {m[1]: (m[2].split("\\n"), m[3]) for m in NODE.finditer(dot)}
    return nodes, EDGE.findall(dot)


def by_first_line(nodes: dict) -> dict[str, str]:
    return {lines[0]: node_id for node_id, (lines, _) in nodes.items()}


def small_network(seed: int = 0):
    """loss = sum(r * relu(x @ w + b)) with constants x and r (random: not all ones)."""
    rng = np.random.default_rng(seed)
    x, r = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = Tensor(rng.standard_normal(2), requires_grad=True)
    z = Tensor(x) @ w + b
    loss = (z.relu() * Tensor(r)).sum()
    return loss, w, b, x, r


def test_one_node_per_op_and_edges_from_inputs_to_ops():
    loss, w, b, _, _ = small_network()
    nodes, edges = parse(to_dot(loss, names={"w": w, "b": b}))
    assert len(nodes) == 7  # w, b, matmul, add, relu, mul, sum (constants are not recorded)
    ids = by_first_line(nodes)
    assert set(ids) == {"w", "b", "matmul", "add", "relu", "mul", "sum"}
    expected = [("w", "matmul"), ("matmul", "add"), ("b", "add"), ("add", "relu")]
    expected += [("relu", "mul"), ("mul", "sum")]
    assert sorted(edges) == sorted((ids[a], ids[b]) for a, b in expected)


def test_labels_hold_op_shape_and_dtype_and_leaves_are_boxes():
    loss, w, _, _, _ = small_network()
    nodes, _ = parse(to_dot(loss, names={w: "w"}))  # the Tensor -> name form
    ids = by_first_line(nodes)
    assert nodes[ids["matmul"]][0][1] == "(4, 2) float64"
    assert nodes[ids["sum"]][0][1] == "() float64"
    assert nodes[ids["w"]][0][1] == "(3, 2) float64"
    boxes = {i for i, (_, attributes) in nodes.items() if "shape=box" in attributes}
    assert boxes == {ids["w"], ids["leaf"]}  # b has no name: "leaf"
    assert "peripheries=2" in nodes[ids["sum"]][1]  # the result
    assert all("grad" not in line for lines, _ in nodes.values() for line in lines)


def test_gradients_are_shown_after_backward_with_retain_graph():
    loss, w, b, x, r = small_network(1)
    loss.backward(retain_graph=True)
    nodes, _ = parse(to_dot(loss, names={"w": w, "b": b}))
    ids = by_first_line(nodes)
    z = x @ w.data + b.data
    dz = r * (z > 0)  # closed form: d sum(r * relu(z)) / dz
    for name, grad in (("w", x.T @ dz), ("b", dz.sum(axis=0))):
        line = nodes[ids[name]][0][2]
        match = re.fullmatch(r"grad (\(.*\)), norm (\S+)", line)
        assert match and match[1] == str(grad.shape)
        # the label rounds the norm to 4 significant digits
        assert float(match[2]) == pytest.approx(np.linalg.norm(grad), rel=1e-3)


def test_an_input_used_twice_has_two_edges_and_named_intermediates_show_their_name():
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    h = x.exp()
    y = (h * h).sum()
    nodes, edges = parse(to_dot(y, names={"x": x, "h": h}))
    ids = by_first_line(nodes)
    assert set(ids) == {"x", "h = exp", "mul", "sum"}
    assert edges.count((ids["h = exp"], ids["mul"])) == 2


def test_a_freed_graph_or_no_graph_is_a_clear_error():
    loss, _, _, _, _ = small_network(2)
    loss.backward()
    with pytest.raises(tg.GraphError, match="retain_graph=True"):
        to_dot(loss)
    with pytest.raises(tg.GraphError, match="no recorded graph"):
        to_dot(Tensor(np.ones(2)) * 2)
    with pytest.raises(tg.DTypeError, match="Tensor"):
        to_dot(np.ones(2))
    with pytest.raises(tg.DTypeError, match="names"):
        to_dot(Tensor(np.ones(2), requires_grad=True) * 2, names={"x": 1.0})


def test_names_with_quotes_are_escaped():
    w = Tensor(np.ones(2), requires_grad=True)
    dot = to_dot((w * 2).sum(), names={'w "1" \\ ': w})
    nodes, _ = parse(dot)
    assert len(nodes) == 3
    assert 'w \\"1\\" \\\\ ' in dot


def test_a_chain_of_100000_ops_is_walked_without_recursion():
    x = Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    dot = to_dot(y)  # counted, not parsed: a regex over 100,000 lines would dominate the time
    assert dot.count(" [label=") == 100_001 and dot.count(" -> ") == 100_000


# --------------------------------------------------------------------------- render


def fake_dot(folder, body: str) -> None:
    """A stand-in for Graphviz's dot: a Python script that answers like it."""
    path = folder / "dot"
    path.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_render_pipes_the_dot_text_through_dot_and_writes_its_output(tmp_path, monkeypatch):
    fake_dot(tmp_path, "sys.stdout.write('<svg>' + sys.argv[1] + sys.stdin.read() + '</svg>')")
    monkeypatch.setenv("PATH", str(tmp_path))
    loss, w, _, _, _ = small_network()
    target = render(loss, tmp_path / "graph.svg", names={"w": w})
    assert target.read_text() == "<svg>-Tsvg" + to_dot(loss, names={"w": w}) + "</svg>"


def test_render_without_dot_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot
    loss, _, _, _, _ = small_network()
    with pytest.raises(tg.MissingDataError, match=r"install Graphviz.*to_dot"):
        render(loss, tmp_path / "graph.svg")
    assert not (tmp_path / "graph.svg").exists()


def test_a_failing_dot_leaves_the_old_file_alone(tmp_path, monkeypatch):
    fake_dot(tmp_path, "sys.stderr.write('syntax error in line 1'); sys.exit(1)")
    monkeypatch.setenv("PATH", str(tmp_path))
    target = tmp_path / "graph.png"
    target.write_bytes(b"old picture")
    loss, _, _, _, _ = small_network()
    with pytest.raises(tg.TinygradHWError, match="syntax error in line 1"):
        render(loss, target, format="png")
    assert target.read_bytes() == b"old picture"
    with pytest.raises(tg.ArgumentError, match="format"):
        render(loss, target, format="jpeg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_with_the_real_dot(tmp_path):
    loss, w, _, _, _ = small_network()
    svg = render(loss, tmp_path / "graph.svg", names={"w": w}).read_text()
    assert "<svg" in svg and ">matmul<" in svg
    png = render(loss, tmp_path / "graph.png", format="png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_the_format_follows_the_file_name(tmp_path, monkeypatch):
    fake_dot(tmp_path, "sys.stdout.write(sys.argv[1])")  # writes the -T option it was given
    monkeypatch.setenv("PATH", str(tmp_path))
    loss, _, _, _, _ = small_network()
    for name, expected in (("g.png", "-Tpng"), ("g.PDF", "-Tpdf"), ("g.svg", "-Tsvg")):
        assert render(loss, tmp_path / name).read_text() == expected
    assert render(loss, tmp_path / "g", format="png").read_text() == "-Tpng"  # no suffix
    assert render(loss, tmp_path / "g.dot").read_text() == "-Tsvg"  # unknown suffix: svg
    with pytest.raises(tg.ArgumentError, match=r"format='svg' but the file name 'g.png'"):
        render(loss, tmp_path / "g.png", format="svg")


def test_jupyter_shows_the_picture_when_dot_is_there(tmp_path, monkeypatch):
    fake_dot(tmp_path, "sys.stdout.write('<svg>' + str(len(sys.stdin.read())) + '</svg>')")
    monkeypatch.setenv("PATH", str(tmp_path))
    loss, _, _, _, _ = small_network()
    dot = loss.graph()
    assert isinstance(dot, str) and dot == to_dot(loss)  # still the DOT text
    assert dot._repr_svg_() == f"<svg>{len(dot)}</svg>"
    bundle = dot._repr_mimebundle_()
    assert bundle == {"text/plain": str(dot), "image/svg+xml": f"<svg>{len(dot)}</svg>"}


def test_jupyter_shows_the_dot_text_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot
    loss, _, _, _, _ = small_network()
    dot = loss.graph()
    assert dot._repr_svg_() is None
    assert dot._repr_mimebundle_() == {"text/plain": str(dot)}
    assert "digraph tinygrad_hw" in dot._repr_mimebundle_()["text/plain"]
