from services.ledger.bootstrap import main

main()
