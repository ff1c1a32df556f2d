.PHONY: run test screenshots
run:
	bash scripts/run.sh
test:
	bash scripts/test.sh
screenshots:
	bash scripts/screenshots.sh
