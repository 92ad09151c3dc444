from famfs_xml.cli import main

main()
