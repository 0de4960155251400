from transmute_model3d.main import main

main()
