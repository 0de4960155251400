from transmute_pdf.main import main

main()
