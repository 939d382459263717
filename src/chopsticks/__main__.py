from chopsticks.cli import main

main()
