from famfs_xml.cli.main import main

main()
