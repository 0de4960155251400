from transmute_audio.main import main

main()
