package ws

import "unsafe"

func sizeofParser() uintptr         { return unsafe.Sizeof(Parser{}) }
func sizeofHandshakeState() uintptr { return unsafe.Sizeof(HandshakeState{}) }
