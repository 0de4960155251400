from transmute_image.main import main

main()
