from transmute_gateway.main import main

main()
