# Bengali digit recognizer: the table of contents. `make serve` and `make test` do all set-up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= ../shared/data
WEIGHTS := weights/bengali_digit.pt
MARS := model_store/bengali_digit.mar model_store/bengali_number.mar
GATEWAY_PORT ?= 8000

.PHONY: retrain feedback-export release promote help serve stop test test-fast archive train train-deps evaluate evaluate-numbers lint system-deps clean bench soak

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(MARS) &: $(VENV)/.runtime $(WEIGHTS) handler/handler.py handler/model-config.yaml $(wildcard bengali_digit/*.py)
	$(PY) -m handler.archive --export-path model_store

archive: $(MARS)  ## build model_store/bengali_{digit,number}.mar from the committed weights

serve: $(MARS)  ## start TorchServe and the gateway on 127.0.0.1, wait until ready, print the page's URL
	GATEWAY_PORT=$(GATEWAY_PORT) $(PY) -m service.stack start

stop:  ## stop what `make serve` started (by PID)
	$(PY) -m service.stack stop

system-deps:  ## Debian packages the browser, font, monitoring and PostgreSQL tests need (installs as root; otherwise says what is missing)
	@if ! command -v chromium >/dev/null || ! fc-list | grep -qi bengali || ! fc-list | grep -qi 'DejaVu Sans' || ! command -v prometheus >/dev/null \
	  || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-beng fonts-dejavu-core fontconfig prometheus postgresql; \
	  else echo "missing chromium, fonts-beng, prometheus or postgresql (run 'sudo make system-deps'): the tests that need them skip"; fi; fi

test: $(VENV)/.dev system-deps  ## run both tiers: in-process, then real TorchServe, gateway, HTTP and browser
	$(PY) -m pytest -q

test-fast: $(VENV)/.dev system-deps  ## the in-process tier alone: no server started (about a minute)
	$(PY) -m pytest -q -m "not server"

lint: $(VENV)/.dev  ## ruff
	$(VENV)/bin/ruff check .

bench: $(VENV)/.dev  ## measure the service (about 7 min, 127.0.0.1 only) into docs/benchmarks.{md,json,png}
	$(PY) -m bench.run --out-dir docs

soak: $(VENV)/.dev system-deps  ## 20,000 good and bad requests through the gateway (127.0.0.1, ~2 min): 5xx, errors, memory
	$(PY) -m bench.soak --requests 20000 --concurrency 16 --out .run/soak.json

train-deps:  ## fonts that "not sure" training renders other scripts' numerals from (Debian; run as root)
	@if ! fc-list ':charset=c66' | grep -q . || ! fc-list ':charset=1040' | grep -q .; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q --no-install-recommends fontconfig \
	    fonts-deva fonts-telu fonts-knda fonts-gujr fonts-guru fonts-orya fonts-taml fonts-mlym fonts-noto-core; \
	  else echo "missing fonts for training/glyphs.py: run 'sudo make train-deps'"; exit 1; fi; fi

train: $(VENV)/.runtime train-deps  ## train the committed model into $(WEIGHTS): digits, then "not sure", then calibration (2 cores: about 1-2 h)
	$(PY) -m training.train --data $(DATA_DIR) --run-dir runs/digits --save runs/digits/model.pt
	$(PY) -m training.nondigits --data $(DATA_DIR) --out runs/nondigits.npz
	$(PY) -m training.train --data $(DATA_DIR) --init runs/digits/model.pt --nondigits runs/nondigits.npz \
	  --ood extra --freeze-bn --epochs 3 --lr 1e-3 --run-dir runs/final --save $(WEIGHTS)
	$(PY) -m training.calibrate --data $(DATA_DIR) --weights $(WEIGHTS) --nondigits runs/nondigits.npz

evaluate: $(VENV)/.runtime  ## the served answers on a set: make evaluate DATA=file.npz [NONDIGITS=other.npz] [OUT=result.json]
	$(PY) -m training.evaluate $(or $(DATA),canvas) --data-dir $(DATA_DIR) $(if $(NONDIGITS),--nondigits $(NONDIGITS)) \
	  $(if $(OUT),--out $(OUT))

evaluate-numbers: $(VENV)/.runtime  ## whole-number accuracy per regime and length on numbers composed from canvas_val strokes (or STROKES=file from python -m training.trace), read with their strokes as the page sends them [PICTURES_ONLY=1] [OUT=file.json]
	$(PY) -m training.evaluate_numbers --strokes $(or $(STROKES),$(DATA_DIR)/canvas_val_strokes.json) $(if $(PICTURES_ONLY),--pictures-only) $(if $(OUT),--out $(OUT))

release: $(VENV)/.runtime  ## archive WEIGHTS (default: the committed) as VERSION=x.y of both models; registered beside the running one
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y [WEIGHTS=path]"; exit 2; }
	$(PY) -m service.releases release $(VERSION) --weights $(WEIGHTS)

promote: $(VENV)/.runtime  ## make VERSION=x.y the default of both models, without a restart (the previous version: rollback)
	@test -n "$(VERSION)" || { echo "usage: make promote VERSION=x.y"; exit 2; }
	$(PY) -m service.releases promote $(VERSION)

feedback-export: $(VENV)/.runtime  ## the corrections people sent, all but rejected ones, as a set for `make evaluate DATA=`: make feedback-export OUT=file.npz
	@test -n "$(OUT)" || { echo "usage: make feedback-export OUT=file.npz"; exit 2; }
	$(PY) -m feedback.export $(OUT)

retrain: $(VENV)/.runtime  ## fine-tune on the training data plus corrections; new weights only if the gate passes: make retrain FEEDBACK=file.npz [OUT=weights.pt]
	@test -n "$(FEEDBACK)" || { echo "usage: make retrain FEEDBACK=file.npz [OUT=weights.pt] (make feedback-export OUT=file.npz writes one)"; exit 2; }
	test -f runs/nondigits.npz || $(PY) -m training.nondigits --data $(DATA_DIR) --out runs/nondigits.npz
	$(PY) -m training.retrain --data $(DATA_DIR) --feedback $(FEEDBACK) --nondigits runs/nondigits.npz $(if $(OUT),--out $(OUT))

clean:  ## remove build outputs (not the venv, the weights, or data/: corrections and releases)
	rm -rf model_store build .run runs/latest
