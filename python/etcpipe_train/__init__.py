"""Training, export and evaluation of etcpipe models (docs/MODELS.md).

Reads the datasets `etcpipe extract` writes and writes model directories that
`etcpipe classify --model DIR` loads. Needs Debian's python3-numpy, python3-torch,
python3-sklearn (and python3-matplotlib for the confusion-matrix PNG).
"""
