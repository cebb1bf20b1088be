# Two commands set everything up: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
MO := src/quanzi/locale/en/LC_MESSAGES/messages.mo src/quanzi/locale/zh_CN/LC_MESSAGES/messages.mo
PYTEST_ARGS ?= -n auto

.PHONY: run test setup assets migrate demo clean i18n

run: setup
	$(BIN)/quanzi migrate
	$(BIN)/quanzi demo
	$(BIN)/quanzi serve

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(STAMP) $(NODE_STAMP) $(MO)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

src/quanzi/locale/%/LC_MESSAGES/messages.mo: src/quanzi/locale/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d src/quanzi/locale -l $* -i $< -o $@

# Re-extract messages and fill Chinese from src/quanzi/locale/zh_CN/terms/*.json (developers only).
i18n: $(STAMP)
	$(BIN)/python tools/i18n.py

migrate: setup
	$(BIN)/quanzi migrate

demo: setup
	$(BIN)/quanzi demo

clean:
	rm -rf $(VENV) node_modules var/*.db*
