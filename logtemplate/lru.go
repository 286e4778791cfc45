package logtemplate

// lruList is an intrusive list of clusters, most recently used first.
type lruList struct {
	head, tail *cluster
	len        int
}

func (l *lruList) pushFront(c *cluster) {
	c.prev, c.next = nil, l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
	if l.tail == nil {
		l.tail = c
	}
	l.len++
}

func (l *lruList) remove(c *cluster) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
	l.len--
}

func (l *lruList) moveToFront(c *cluster) {
	if l.head == c {
		return
	}
	l.remove(c)
	l.pushFront(c)
}
