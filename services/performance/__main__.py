from services.performance.app import main

main()
