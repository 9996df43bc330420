# Shortcuts for dev.py, which needs nothing but Python 3.11+.
.PHONY: run demo test ci
run demo:
	python3 dev.py demo
test:
	python3 dev.py test
ci:
	bash .ci/run
