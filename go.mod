module github.com/deepc-dev/deepc

go 1.26.8
