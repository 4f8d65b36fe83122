"""Space files: axes, ranges, workloads, and the errors that name what is wrong."""
import pytest

from sim.explore.space import BUILTIN_SPACES, FMAX, SpaceError, load_space, parse_space

WORKLOAD = [{"folio_size": "4K", "size": "1M"}]


def space(**data):
    return parse_space({"workloads": WORKLOAD, **data})


def test_axes_values_lists_and_ranges():
    s = space(axes={"data_width": [64, 128], "channels": {"from": 1, "to": 16, "factor": 2},
                    "outstanding_reads": {"from": 2, "to": 6, "step": 2}, "driver": "v3"})
    assert s.axes == {"data_width": [64, 128], "channels": [1, 2, 4, 8, 16],
                      "outstanding_reads": [2, 4, 6], "driver": ["v3"]}
    assert s.varied == ["data_width", "channels", "outstanding_reads"]
    assert s.size == 30 and len(s.points()) == 30
    assert s.points()[0].label == "data_width=64, channels=1, outstanding_reads=2, driver=v3"


def test_point_machine_applies_every_kind_of_axis():
    s = space(axes={"platform": "zen3-ptdma", "data_width": 256, "channels": 4,
                    "engines_per_port": 2, "memory.remote.read_gbps": 80.0,
                    "engine_mhz": 400})
    machine = s.points()[0].machine()
    assert machine.engines == 16 and machine.dcbm_channels == 4
    assert machine.engine.data_width == 256 and machine.engine.channels == 1
    assert machine.engine_ports.engines_per_port == 2
    assert machine.remote.read_gbps == 80.0 and machine.engine_mhz == 400


def test_channels_on_one_engine_are_its_rings_unless_rings_is_an_axis():
    assert space(axes={"channels": 4}).points()[0].machine().engine.channels == 4
    machine = space(axes={"rings": 8, "channels": 4}).points()[0].machine()
    assert machine.engine.channels == 8 and machine.dcbm_channels == 4


def test_fmax_clock_needs_place_and_route_and_takes_the_clock_given():
    with pytest.raises(SpaceError, match="fmax"):
        space(axes={"engine_mhz": [FMAX, 1000]}, area={"fmax": False})
    s = space(axes={"engine_mhz": [FMAX]})
    point = s.points()[0]
    assert s.needs_fmax(point)
    assert point.machine().engine_mhz == 1000          # the platform's, until known
    assert point.machine(fmax_mhz=85.5).engine_mhz == 85.5


@pytest.mark.parametrize("data, message", [
    ({"axes": {"colour": [1]}}, "axes.colour: unknown axis"),
    ({"axes": {"driver": ["v9"]}}, "axes.driver"),
    ({"axes": {"engine_mhz": [-5]}}, "axes.engine_mhz"),
    ({"axes": {"data_width": []}}, "empty list"),
    ({"axes": {"data_width": [64, 64]}}, "given twice"),
    ({"axes": {"channels": {"from": 4, "to": 1, "step": 1}}}, "from <= to"),
    ({"axes": {"channels": {"from": 1, "to": 4}}}, "a range is"),
    ({"search": {"method": "random"}}, "search.method"),
    ({"search": {"method": "nsga2"}}, "budget"),
    ({"search": {"objectives": ["dma_gbps"]}}, "at least two"),
    ({"search": {"objectives": ["dma_gbps", "beauty"]}}, "objective 'beauty'"),
    ({"area": {"enabled": False}, "search": {"objectives": ["dma_gbps", "luts"]}},
     "needs the engine's area"),
    ({"area": {"colour": 1}}, "area: unknown key"),
    ({"repeat": 0}, "repeat"),
    ({"flavour": 1}, "unknown key"),
])
def test_bad_spaces_name_the_problem(data, message):
    with pytest.raises(SpaceError, match=message):
        space(**data)


@pytest.mark.parametrize("workloads, message", [
    (None, "at least one"), ([{"size": "1M"}], "folio_size is required"),
    ([{"folio_size": "4Q", "size": "1M"}], "folio_size"),
    ([{"folio_size": "4K", "size": "1M", "screen_size": "2M"}], "smaller"),
    ([{"folio_size": "4K", "size": "1M", "node": 1}], "unknown key"),
])
def test_bad_workloads_name_the_problem(workloads, message):
    with pytest.raises(SpaceError, match=message):
        parse_space({} if workloads is None else {"workloads": workloads})


def test_files_errors_and_builtins(tmp_path):
    with pytest.raises(SpaceError, match="no such file"):
        load_space(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("axes = [")
    with pytest.raises(SpaceError, match="not valid TOML"):
        load_space(bad)
    assert {"crossover", "quick"} <= set(BUILTIN_SPACES)
    for name in BUILTIN_SPACES:
        s = load_space(name)
        for point in s.points():
            point.machine(s.base_dir)              # every built-in point is a machine


def test_platform_files_are_found_beside_the_space(tmp_path):
    (tmp_path / "slow.toml").write_text("[clocks]\nengine_mhz = 250.0\n")
    path = tmp_path / "space.toml"
    path.write_text('[axes]\nplatform = ["slow.toml", "seed"]\n'
                    '[[workloads]]\nfolio_size = "4K"\nsize = "1M"\n')
    s = load_space(path)
    assert [p.machine(s.base_dir).engine_mhz for p in s.points()] == [250.0, 1000.0]


def test_the_area_names_a_family_and_one_of_its_devices():
    assert (space().area.family, space().area.device) == ("ecp5", "85k")
    gowin = space(area={"family": "gowin"}).area
    assert gowin.device == "gw2a-18"                 # the family's default device
    assert space(area={"family": "xilinx", "fmax": False}).area.family == "xilinx"
    for area, message in [({"family": "vu9p"}, "area.family='vu9p': expected one of ecp5"),
                          ({"family": "xilinx"}, "area.fmax needs place and route"),
                          ({"family": "ice40", "device": "85k"}, "iCE40 devices are up5k")]:
        with pytest.raises(SpaceError, match=message):
            space(area=area)
