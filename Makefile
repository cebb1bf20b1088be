# Two commands set everything up: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
MO := src/quanzi/locale/en/LC_MESSAGES/messages.mo src/quanzi/locale/zh_CN/LC_MESSAGES/messages.mo
PYTEST_ARGS ?= -n auto

.PHONY: run test setup assets migrate demo clean i18n cjk-font

run: setup
	$(BIN)/quanzi migrate
	$(BIN)/quanzi demo
	# The demo pays WeChat/Alipay withdrawals through the local sandbox (explicitly: production refuses it).
	QUANZI_PAYOUT_SANDBOX=1 $(BIN)/quanzi serve

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(STAMP) $(NODE_STAMP) $(MO) cjk-font

# Posters need a font that draws Chinese: Debian/Ubuntu's fonts-wqy-microhei, installed here when missing and
# we are root; otherwise the command to run is printed. `quanzi doctor` checks what `quanzi serve` checks.
cjk-font: $(STAMP) $(NODE_STAMP)
	@$(BIN)/quanzi doctor >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing fonts-wqy-microhei (the poster font)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-microhei \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	           --no-install-recommends fonts-wqy-microhei; }; \
	  else echo "Posters need a Chinese font: run 'sudo apt-get install fonts-wqy-microhei'" \
	    "or set QUANZI_CJK_FONT=/path/to/font.ttc"; fi; }
	@$(BIN)/quanzi doctor

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
