LR = 0.1
EPOCHS = 5


class Cfg:
    depth = 3
