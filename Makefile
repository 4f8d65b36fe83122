# foliodma: two commands on a fresh Debian/Ubuntu machine with Python 3.11+.
#   make demo   set up .venv and run the main job, foliodma migrate (Amaranth's simulator only)
#   make test   set up .venv (and Icarus Verilog) and run the whole suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench reproduce figures synth icarus regs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "foliodma needs Python 3.11 or newer, found " + sys.version.split()[0])'
	@$(PYTHON) -m venv $(VENV) || { echo "error: could not create $(VENV): install the venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

demo: $(STAMP)
	$(BIN)/foliodma migrate

# Icarus Verilog 11 from the distribution; installed when missing and we may.
icarus:
	@command -v iverilog >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	else echo "error: iverilog is missing: install the Debian/Ubuntu package 'iverilog' (apt-get install iverilog), then run make test again" >&2; exit 1; fi; \
	echo "installing iverilog with apt-get"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq iverilog >/dev/null \
	  || { echo "error: apt-get could not install the package 'iverilog'" >&2; exit 1; }

test: $(STAMP) icarus
	$(BIN)/pytest -n 2 -q

# The throughput table of the README: both back-ends, 256-bit, 200-cycle memory.
bench: $(STAMP) icarus
	$(BIN)/foliodma bench --backend both --data-width 256 --folio-size 4K --folios 512 --channels 1 --latency 200
	$(BIN)/foliodma bench --backend both --data-width 256 --folio-size 2M --folios 4 --channels 1 --latency 200

# Every row of the seed's tables, model vs measured (a few minutes; Icarus is faster).
reproduce: $(STAMP) icarus
	$(BIN)/foliodma reproduce --backend icarus

# The engine on a Lattice ECP5: cells, device use and clock, then against the data
# width (the README's tables, ~5 minutes).
synth: $(STAMP)
	$(BIN)/foliodma synth --pnr
	$(BIN)/foliodma synth --sweep data-width 64,128,256,512 --pnr

regs: $(STAMP)
	$(BIN)/foliodma regs --out docs

# The README's figures (docs/figures), each by the command the README shows (~6 minutes).
figures: $(STAMP) icarus
	$(BIN)/foliodma migrate --quiet --plot docs/figures/migrate.svg
	$(BIN)/foliodma reproduce --backend icarus --quiet --plot docs/figures/reproduce.svg
	$(BIN)/foliodma sweep driver v1,v2,v3 --copy batch-cpu --copy dma --backend icarus --quiet --plot docs/figures/sweep-driver.svg
	$(BIN)/foliodma sweep data-width 64,128,256,512 --folio-size 2M --workload 8M --max-batch-pages 2048 --copy batch-cpu --copy dma --backend icarus --measure copy_gbps --quiet --plot docs/figures/sweep-data-width.svg

clean:
	rm -rf build $(VENV) *.egg-info
