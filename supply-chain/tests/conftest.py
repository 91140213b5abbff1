import sys
from pathlib import Path

# check.py and workspace.py are scripts in supply-chain/, not an installed package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
