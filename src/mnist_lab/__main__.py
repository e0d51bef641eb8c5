from mnist_lab.cli import main

raise SystemExit(main())
