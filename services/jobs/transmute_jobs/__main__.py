from transmute_jobs.main import main

main()
