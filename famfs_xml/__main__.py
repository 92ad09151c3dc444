from famfs_xml.main import main

main()
