from services.performance.bootstrap import main

main()
